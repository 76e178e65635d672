import Coordination
import Foundation
import Testing

@testable import CoordinationCLI
@testable import CoordinationRecipes

/// The shapes `coord` prints, checked without a store.
@Suite("coord output formats")
struct OutputFormatTests {
    let record = Record(
        key: try! Key("/app/config/color"), value: [0x62, 0x6C, 0x75, 0x65, 0xFF], version: 3, createRevision: 17,
        modRevision: 42, isEphemeral: true)

    @Test("a record is one JSON object with the value in base64 and every field")
    func recordJSON() throws {
        let line = JSONLines.line(RecordJSON(record))
        #expect(!line.contains("\n"))
        #expect(
            line
                == #"{"createRevision":17,"ephemeral":true,"key":"/app/config/color","modRevision":42,"value":"Ymx1Zf8=","version":3}"#
        )
    }

    @Test("watch events: snapshot, put and delete lines")
    func watchEventJSON() throws {
        #expect(JSONLines.line(WatchEventJSON(.delete(record.key))) == #"{"key":"/app/config/color","type":"delete"}"#)
        let put = try JSONSerialization.jsonObject(with: Data(JSONLines.line(WatchEventJSON(.put(record))).utf8)) as? [String: Any]
        #expect(put?["type"] as? String == "put")
        #expect((put?["record"] as? [String: Any])?["version"] as? Int == 3)
        let snapshot = try JSONSerialization.jsonObject(
            with: Data(JSONLines.line(WatchEventJSON(.snapshot([record, record]))).utf8)) as? [String: Any]
        #expect(snapshot?["type"] as? String == "snapshot")
        #expect((snapshot?["records"] as? [Any])?.count == 2)
    }

    @Test("tree lines are indented under the top key, with versions, short text quoted")
    func treeLines() throws {
        func persistent(_ path: String) throws -> Record {
            Record(key: try Key(path), value: [], version: 0, createRevision: 1, modRevision: 1, isEphemeral: false)
        }
        var text = record
        text.value = Array("green".utf8)
        // The same whether the walk starts at /app or at / (whose own line `kv tree` prints).
        var tree = TreeText()
        #expect(tree.line(for: try persistent("/app")) == "/app  (version 0)")
        #expect(tree.line(for: try persistent("/app/config")) == "  config  (version 0)")
        #expect(tree.line(for: text) == #"    color = "green"  (version 3, ephemeral)"#)
        #expect(tree.line(for: record) == "    color = <5 bytes>  (version 3, ephemeral)")
        #expect(tree.line(for: try persistent("/app/other")) == "  other  (version 0)", "a sibling after a deeper key")
    }

    /// etcd needs no parents: another client's `/app/config/color` with no `/app/config` is shown
    /// by its path from the nearest key shown, not as `color` under whatever came before it.
    @Test func treeLinesOfKeysWithoutTheirParents() throws {
        var tree = TreeText()
        var text = record
        text.value = Array("green".utf8)
        #expect(tree.line(for: Record(key: try Key("/app"), value: [], version: 0, createRevision: 1, modRevision: 1, isEphemeral: false))
            == "/app  (version 0)")
        #expect(tree.line(for: text) == #"  config/color = "green"  (version 3, ephemeral)"#)
        var orphan = text
        orphan.key = try Key("/lone/config/color")
        #expect(tree.line(for: orphan) == #"/lone/config/color = "green"  (version 3, ephemeral)"#)
    }

    /// A member's line is its id, two spaces and its metadata; `--watch` ends each state with a
    /// line "--". An id is any key segment, so a member "--" ended a state early, a line
    /// separator in an id broke its line in two for readers that split there, and an id with
    /// two spaces (or metadata that reads as quoted or as a byte count) read back as another
    /// member: such ids and metadata are quoted and escaped, as metadata with a line break was.
    @Test("member ids and metadata that would read as something else are quoted")
    func ambiguousMemberTextIsQuoted() {
        func line(_ id: String, _ metadata: String) -> String {
            MemberText.line(Member(id: id, metadata: Array(metadata.utf8), joinedRevision: 1))
        }
        #expect(line("web-1", "10.0.0.5:8080") == "web-1  10.0.0.5:8080")
        #expect(line("ünï cødé", "x y") == "ünï cødé  x y", "a plain id with a single space stays as it is")
        #expect(line("--", "") == #""--""#)
        #expect(line("--", "x") == #""--"  x"#)
        #expect(line("e\u{2028}f", "g") == #""e\u{2028}f"  g"#)
        #expect(line("b  c", "d") == #""b  c"  d"#)
        #expect(line(" b", "d") == #"" b"  d"#)
        #expect(line("b ", "d") == #""b "  d"#)
        #expect(line(#""q""#, "") == #""\"q\"""#)
        #expect(line("a", #""q""#) == #"a  "\"q\"""#, "metadata that reads as quoted text is quoted")
        #expect(line("a", "<3 bytes>") == #"a  "<3 bytes>""#, "metadata that reads as a byte count is quoted")
        #expect(MemberText.line(Member(id: "a", metadata: [0xFF, 0xFE, 0x00], joinedRevision: 1)) == "a  <3 bytes>")
    }

    @Test("a quote or backslash in a tree value is escaped, so the quoted text reads back unambiguously")
    func treeValueEscapes() {
        #expect(TreeText.preview(Array(#"say "hi" \x"#.utf8)) == #""say \"hi\" \\x""#)
    }

    /// Short text with a line break or a tab showed as `<3 bytes>`, as if binary, where `coord
    /// members` shows the same bytes as `"x\ny"`: it is quoted and escaped, so still one line.
    @Test("short text with a line break, a tab or a line separator in a tree value is shown escaped, not as a byte count")
    func treeValueWithControlCharactersIsText() {
        #expect(TreeText.preview(Array("x\ny".utf8)) == #""x\ny""#)
        #expect(TreeText.preview(Array("a\tb\r\n".utf8)) == #""a\tb\r\n""#)
        #expect(TreeText.preview(Array("e\u{2028}f\u{7}".utf8)) == #""e\u{2028}f\u{7}""#)
        #expect(TreeText.preview(Array("x\ny".utf8)) == MemberText.metadata(Array("x\ny".utf8)))
        // Not UTF-8, or longer than 60 characters: the size, as before.
        #expect(TreeText.preview([0xFF, 0x0A, 0x00]) == "<3 bytes>")
        #expect(TreeText.preview(Array(String(repeating: "a\n", count: 31).utf8)) == "<62 bytes>")
    }

    @Test("the README's exit status table is ExitStatus's, row for row, with the usage status last")
    func readmeExitStatusTable() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Exit status").dropFirst().first)
        let rows = section.split(separator: "\n").prefix { !$0.hasPrefix("## ") }
            .filter { $0.hasPrefix("| ") && $0.dropFirst(2).first?.isNumber == true }
            .map { String($0) }
        let expected = ExitStatus.allCases.map { status in
            let codes = status.codes.map { "`\($0.rawValue)`" }.joined(separator: ", ")
            return "| \(status.rawValue) | \(status.meaning) | \(codes)\(codes.isEmpty ? "" : " ")|"
        }
        #expect(Array(rows.dropLast()) == expected)
        #expect(rows.last?.hasPrefix("| 64 | usage error") == true)
        for status in ExitStatus.allCases {
            #expect(ExitStatus.helpTable.contains("\(status.rawValue)\(status.rawValue < 10 ? "   " : "  ")\(status.meaning)"))
        }
    }

    @Test("every error code has an exit status other than success and usage", arguments: CoordinationError.Code.allCases)
    func exitStatus(code: CoordinationError.Code) {
        let status = ExitStatus(code)
        #expect(status != .success && status != .failure)
        #expect(status.codes.contains(code))
    }
}
