import ByteBuffers

/// Turns frames into messages (RFC 6455 §5.4-5.5): reassembles fragments, lets control
/// frames interleave, enforces the message size limit, validates text as UTF-8 as it arrives
/// and checks Close payloads. One per connection; pure, no I/O.
///
/// An unfragmented message is handed out as a view of the caller's buffer (no copy);
/// fragments are gathered in the reader's own storage, which is released after large messages.
public final class MessageReader {
    public enum Event {
        /// Nothing to deliver. If `consumed` is non-zero, call again with the remaining bytes;
        /// otherwise wait for more bytes.
        case pending
        /// A whole text or binary message. The bytes are valid until the next call.
        case message(Opcode, UnsafeRawBufferPointer)
        /// A whole message sent compressed (RSV1, permessage-deflate), still compressed: the
        /// receiver inflates it and then checks text for UTF-8. Only when `acceptsCompressed`.
        case compressedMessage(Opcode, UnsafeRawBufferPointer)
        case ping(UnsafeRawBufferPointer)
        case pong(UnsafeRawBufferPointer)
        /// The peer's Close, already checked: `code` is nil when the frame had no payload.
        case close(CloseCode?, reason: UnsafeRawBufferPointer)
        /// The connection must be failed with this code; stop reading.
        case failure(ProtocolFailure)
    }

    // Declared in an order that leaves no padding (a class's fields are laid out as declared):
    // 65 bytes here take an 80-byte allocation where 89 took 112.
    /// Fragments of the message in progress; above 16 KiB freed after its message so idle
    /// connections stay small.
    private var storage = GrowableBuffer()
    private static let retainedCapacity = 16 * 1024
    private var storageCount = 0
    private var parser: FrameParser
    /// The opcode of the fragmented message in progress, if any.
    private var fragmentOpcode: Opcode?
    /// Whether the fragmented message in progress was sent compressed.
    private var fragmentCompressed = false
    /// permessage-deflate was negotiated: RSV1 marks a compressed message (its first frame).
    public var acceptsCompressed = false {
        didSet { parser.allowedRSV = acceptsCompressed ? Self.compressedBit : 0 }
    }
    /// Set when storage was handed out; it is emptied on the next call.
    private var storageDelivered = false
    private var textValidator = UTF8Validator()

    /// Largest message, summed over its fragments: the parser's bound on one frame, kept once.
    public var maxMessageLength: Int { parser.maxPayloadLength }

    /// Between messages: no fragmented message in progress and no frame partly read, so the
    /// next bytes start a frame and any reader with the same settings would read them the same.
    public var isAtRest: Bool { fragmentOpcode == nil && parser.unmaskedPayloadBytes == 0 }

    /// Leaves nothing of the last connection's messages: storage emptied (and freed above
    /// 16 KiB, as after any message, so fragmented messages do not allocate each time), UTF-8
    /// state fresh (a message that failed validation may have left it mid-sequence). For a
    /// reader at rest going back to its pool.
    func prepareForReuse() {
        releaseStorage()
        textValidator = UTF8Validator()
        fragmentCompressed = false
    }

    private func acceptCompressed(_ accepts: Bool) { acceptsCompressed = accepts }
    static let compressedBit: UInt8 = 0b100

    public init(role: FrameParser.Role, maxMessageLength: Int) {
        self.parser = FrameParser(role: role, maxPayloadLength: maxMessageLength)
    }

    /// Reads the next event from the unconsumed bytes at the start of `buffer`. The caller
    /// drops `consumed` bytes, then acts on the event.
    public func next(_ buffer: UnsafeMutableRawBufferPointer) -> (event: Event, consumed: Int) {
        if storageDelivered { releaseStorage() }
        switch parser.next(buffer) {
        case .failure(let failure):
            return (.failure(failure), 0)
        case .needMore(let header, let newPayload):
            guard let header else { return (.pending, 0) }
            if let failure = checkSequence(header) ?? validateText(header, buffer, newPayload) {
                return (.failure(failure), 0)
            }
            return (.pending, 0)
        case .frame(let header, let payloadRange, let newPayload):
            if let failure = checkSequence(header) ?? validateText(header, buffer, newPayload) {
                return (.failure(failure), 0)
            }
            let payload = UnsafeRawBufferPointer(rebasing: buffer[payloadRange])
            return (complete(header, payload), header.frameLength)
        }
    }

    /// Reads events from `buffer` until more bytes are needed or `body` returns false, and
    /// returns the bytes consumed. What server and client connections both do with a read.
    public func readEvents(_ buffer: UnsafeMutableRawBufferPointer, _ body: (Event) -> Bool) -> Int {
        var offset = 0
        while true {
            let (event, consumed) = next(UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
            offset += consumed
            if case .pending = event, consumed == 0 { return offset }
            if !body(event) { return offset }
        }
    }

    private func complete(_ header: FrameHeader, _ payload: UnsafeRawBufferPointer) -> Event {
        switch header.opcode {
        case .ping: return .ping(payload)
        case .pong: return .pong(payload)
        case .close: return Self.parseClose(payload)
        case .continuation:
            append(payload)
            guard header.fin, let opcode = fragmentOpcode else { return .pending }
            fragmentOpcode = nil
            storageDelivered = true
            let message = UnsafeRawBufferPointer(start: storage.base, count: storageCount)
            if fragmentCompressed { return .compressedMessage(opcode, message) }
            if let failure = finishText(opcode) { return .failure(failure) }
            return .message(opcode, message)
        default:
            let compressed = header.rsv & Self.compressedBit != 0
            if header.fin {
                if compressed { return .compressedMessage(header.opcode, payload) }
                if let failure = finishText(header.opcode) { return .failure(failure) }
                return .message(header.opcode, payload)
            }
            fragmentOpcode = header.opcode
            fragmentCompressed = compressed
            append(payload)
            return .pending
        }
    }

    /// Frame-order and size rules that the header alone decides.
    private func checkSequence(_ header: FrameHeader) -> ProtocolFailure? {
        if header.rsv & Self.compressedBit != 0 && (header.opcode.isControl || header.opcode == .continuation) {
            // RFC 7692 §6.1: RSV1 is set on the first frame of a compressed message only.
            return ProtocolFailure(.protocolError, "RSV1 set on a control or continuation frame")
        }
        if header.opcode.isControl { return nil }
        if header.opcode == .continuation {
            if fragmentOpcode == nil {
                return ProtocolFailure(.protocolError, "continuation frame without a message to continue")
            }
            if storageCount + header.payloadLength > maxMessageLength {
                return ProtocolFailure(.messageTooBig, "message exceeds the size limit")
            }
            return nil
        }
        if fragmentOpcode != nil {
            return ProtocolFailure(.protocolError, "new message started inside a fragmented message")
        }
        return nil
    }

    private func validateText(_ header: FrameHeader, _ buffer: UnsafeMutableRawBufferPointer,
                              _ newPayload: Range<Int>) -> ProtocolFailure? {
        let isText = header.opcode == .text || (header.opcode == .continuation && fragmentOpcode == .text)
        // Compressed text is checked once inflated.
        let isCompressed = header.opcode == .continuation ? fragmentCompressed : header.rsv & Self.compressedBit != 0
        guard isText, !isCompressed, !newPayload.isEmpty else { return nil }
        if textValidator.validate(UnsafeRawBufferPointer(rebasing: buffer[newPayload])) { return nil }
        return ProtocolFailure(.invalidPayloadData, "text message is not valid UTF-8")
    }

    private func finishText(_ opcode: Opcode) -> ProtocolFailure? {
        guard opcode == .text else { return nil }
        defer { textValidator.reset() }
        return textValidator.isComplete ? nil : ProtocolFailure(.invalidPayloadData, "text message ends inside a UTF-8 sequence")
    }

    /// Checks a Close payload: empty, or a valid code followed by a UTF-8 reason.
    public static func parseClose(_ payload: UnsafeRawBufferPointer) -> Event {
        if payload.isEmpty { return .close(nil, reason: payload) }
        if payload.count == 1 { return .failure(ProtocolFailure(.protocolError, "close payload of one byte")) }
        let code = CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
        if !code.isValidOnWire { return .failure(ProtocolFailure(.protocolError, "invalid close code")) }
        let reason = UnsafeRawBufferPointer(rebasing: payload[2...])
        if !UTF8Validator.isValid(reason) {
            return .failure(ProtocolFailure(.invalidPayloadData, "close reason is not valid UTF-8"))
        }
        return .close(code, reason: reason)
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let needed = storageCount + bytes.count
        if needed > storage.capacity { storage.reserve(max(needed, storage.capacity * 2, 1024), keeping: storageCount) }
        (storage.base! + storageCount).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        storageCount = needed
    }

    // MARK: Handover

    /// What a reader holds between frames, for a reader in another process to continue (a live
    /// handover): the fragmented message in progress, its fragments so far unmasked and checked.
    public struct Progress: Sendable, Equatable {
        /// The opcode of the fragmented message in progress; nil between messages.
        public var fragmentOpcode: Opcode?
        /// Whether that message was sent compressed.
        public var compressed: Bool
        /// Its payload so far.
        public var fragments: [UInt8]

        public init(fragmentOpcode: Opcode? = nil, compressed: Bool = false, fragments: [UInt8] = []) {
            self.fragmentOpcode = fragmentOpcode
            self.compressed = compressed
            self.fragments = fragments
        }
    }

    /// Stops this reader and returns where the next one continues. `unconsumed` is the input
    /// not consumed yet (it starts at a frame boundary): the part of its first frame already
    /// unmasked in place is masked again, so the next reader parses those bytes from scratch.
    public func suspend(unconsumed: UnsafeMutableRawBufferPointer) -> Progress {
        let unmasked = parser.unmaskedPayloadBytes
        if unmasked > 0,
           case .success(let header?) = FrameParser.parseHeader(UnsafeRawBufferPointer(unconsumed), role: parser.role,
                                                                 maxPayloadLength: parser.maxPayloadLength,
                                                                 allowedRSV: parser.allowedRSV),
           let key = header.maskKey, header.headerLength + unmasked <= unconsumed.count {
            Masking.apply(key: key, to: UnsafeMutableRawBufferPointer(rebasing: unconsumed[header.headerLength..<(header.headerLength + unmasked)]),
                          payloadOffset: 0)
        }
        guard !storageDelivered, let opcode = fragmentOpcode else { return Progress() }
        return Progress(fragmentOpcode: opcode, compressed: fragmentCompressed,
                        fragments: Array(UnsafeRawBufferPointer(start: storage.base, count: storageCount)))
    }

    /// A reader that continues where another one stopped (`suspend`), its fragments and UTF-8
    /// state restored. Nil when the progress breaks this reader's limits.
    public convenience init?(role: FrameParser.Role, maxMessageLength: Int, acceptsCompressed: Bool, resuming progress: Progress) {
        self.init(role: role, maxMessageLength: maxMessageLength)
        // Set through a method: observers do not run for assignments inside an initializer.
        acceptCompressed(acceptsCompressed)
        guard let opcode = progress.fragmentOpcode else { return }
        guard opcode == .text || opcode == .binary, progress.fragments.count <= maxMessageLength,
              !progress.compressed || acceptsCompressed else { return nil }
        fragmentOpcode = opcode
        fragmentCompressed = progress.compressed
        progress.fragments.withUnsafeBytes { bytes in
            append(bytes)
        }
        if opcode == .text && !progress.compressed {
            guard progress.fragments.withUnsafeBytes({ textValidator.validate($0) }) else { return nil }
        }
    }

    private func releaseStorage() {
        storageDelivered = false
        storageCount = 0
        storage.trim(above: Self.retainedCapacity)
    }
}
