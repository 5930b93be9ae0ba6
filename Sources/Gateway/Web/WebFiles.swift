/// `GET /`: a live page of the market, built on the reference client (`/tickstream.js`): a
/// symbol picker, a ticker table, the depth ladder of one symbol, the connection (protocol,
/// messages/s, latency from `ts`, gaps from `seq`, reconnects and whether `seq` continued
/// across them) and the server's `/stats`. Plain HTML, CSS and JavaScript in
/// `page.html`, embedded at build time (the EmbedWebFiles plugin).
///
/// `?symbols=AAPL,MSFT` chooses the symbols (default: the first eight served), `?token=` is
/// passed to `/ws` when it needs a token, `?depth=` sets the ladder's depth (default 10),
/// `?delta=0` asks for whole states instead of deltas, `?max_rate=N` caps each symbol at N
/// updates a second.
enum IndexPage {
    static let html = EmbeddedWebFiles.pageHtml
}

/// `GET /tickstream.js`: the reference browser client (protocols/browser.md), plain JavaScript
/// in `tickstream.js`, embedded at build time (the EmbedWebFiles plugin), so the binary serves
/// it with no resource bundle.
enum ReferenceClientScript {
    static let source = EmbeddedWebFiles.tickstreamJs
}
