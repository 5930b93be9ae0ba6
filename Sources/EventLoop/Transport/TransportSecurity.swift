/// Encryption between a `StreamSocket` and its peer (TLS), driven by the socket on the loop.
///
/// The socket stays in charge of descriptors, buffers and syscalls; the transport only turns
/// ciphertext into plaintext and back. Frames stay shared plaintext in the socket's queue until
/// flush time, when the socket gathers them into records of up to `maxRecordPlaintext` bytes:
/// encryption is per connection, encoding stays once per update.
public protocol TransportSecurity: AnyObject {
    /// Where the transport's bytes for the wire go (records, handshake messages, alerts).
    /// The socket sets itself here before anything else is called.
    var output: TransportOutput? { get set }
    /// Starts the handshake where our side speaks first (a client's hello).
    func start()
    /// Offers ciphertext read from the socket. It must stay valid until `readPlaintext` has
    /// returned something other than `.bytes`; `receive(ciphertext: nil)` withdraws it.
    func receive(ciphertext: UnsafeRawBufferPointer?)
    /// Decrypts what was offered into `plaintext`, driving the handshake as needed.
    func readPlaintext(into plaintext: UnsafeMutableRawBufferPointer) -> TransportRead
    /// Whether the handshake finished, so plaintext can be written.
    var isEstablished: Bool { get }
    /// Encrypts `plaintext` (at most `maxRecordPlaintext` bytes) as one record into `output`.
    func writePlaintext(_ plaintext: UnsafeRawBufferPointer)
    /// Puts the close alert (TLS close_notify) into `output`.
    func closeNotify()
    /// The socket closed; `byPeer` tells whether the peer ended it (EOF, reset) or we did.
    func socketDidClose(byPeer: Bool)
}

/// Largest plaintext written as one record: TLS's 16 KiB less room for the record overhead,
/// so a sealed record fits one pooled output chunk.
public let maxRecordPlaintext = 16 * 1024 - 64

/// What `TransportSecurity.readPlaintext` produced.
public enum TransportRead: Sendable, Equatable {
    /// This many plaintext bytes.
    case bytes(Int)
    /// Nothing more until more ciphertext arrives.
    case needInput
    /// The peer closed the secure channel (close_notify): an end of input.
    case closed
    /// The peer broke the protocol (garbage, a plaintext request, a failed handshake). What the
    /// transport wants the peer to see (an alert, a plain HTTP 400) is already in `output`.
    case failed(String)
}

/// Receives the bytes a `TransportSecurity` wants on the wire.
public protocol TransportOutput: AnyObject {
    func transportWrite(_ bytes: UnsafeRawBufferPointer)
}
