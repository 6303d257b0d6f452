import Foundation
import Logging

/// Log lines on stderr: `2026-11-21T07:00:00.123Z info message key=value` or one JSON object per line.
struct StderrLogHandler: LogHandler {
    let label: String
    let format: OutputFormat
    let console: Console
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String, format: OutputFormat, console: Console) {
        self.label = label
        self.format = format
        self.console = console
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let time = Self.timestamp()
        if format == .json {
            var object: [String: any Sendable] = ["time": time, "level": event.level.rawValue, "message": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            console.err(JSONLine.encode(object))
        } else {
            var line = "\(time) \(event.level.rawValue) \(event.message)"
            for key in merged.keys.sorted() where key != "pair" && key != "direction" {
                line += " \(key)=\(merged[key]!)"
            }
            console.err(line)
        }
    }

    static func timestamp() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var parts = tm()
        var seconds = time.tv_sec
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
            parts.tm_sec,
            time.tv_nsec / 1_000_000)
    }
}
