import PackagePlugin

/// Embeds the gateway's live page and its reference client (`Sources/Gateway/Web/page.html`,
/// `tickstream.js`) as string constants at build time, so they are real files to edit, lint
/// and test as what they are, and the binary still needs no resource bundle.
@main
struct EmbedWebFiles: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let web = target.directoryURL.appending(path: "Web")
        let inputs = ["page.html", "tickstream.js"].map { web.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedWebFiles.swift")
        return [
            .buildCommand(displayName: "Embedding the page and tickstream.js",
                          executable: try context.tool(named: "EmbedText").url,
                          arguments: [output.path, "EmbeddedWebFiles"] + inputs.map(\.path),
                          inputFiles: inputs, outputFiles: [output]),
        ]
    }
}
