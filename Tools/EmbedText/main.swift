// Build tool: writes a Swift file holding text files as string constants, so the gateway
// serves its page and client from the binary while they stay real files in the repository.
//
//     EmbedText OUTPUT.swift ENUM FILE...
//
// Each FILE becomes `static let <name>` in `enum ENUM`, its name the file name in lower camel
// case (`page.html` -> `pageHtml`).
import Foundation

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: EmbedText OUTPUT.swift ENUM FILE...\n".utf8))
    exit(2)
}
let output = arguments[arguments.startIndex]
let enumName = arguments[arguments.startIndex + 1]
var swift = "// Generated at build time by Tools/EmbedText from the files named below: edit those, not this.\nenum \(enumName) {\n"
for path in arguments.dropFirst(2) {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let file = URL(fileURLWithPath: path).lastPathComponent
    var name = ""
    var upper = false
    for character in file {
        if character.isLetter || character.isNumber {
            name.append(upper ? Character(character.uppercased()) : character)
            upper = false
        } else {
            upper = true
        }
    }
    // A raw string whose delimiter the text does not contain.
    var hashes = "#"
    while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
    swift += "    /// \(file)\n    static let \(name) = \(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes)\n"
}
swift += "}\n"
try swift.write(toFile: output, atomically: true, encoding: .utf8)
