import ArgumentParser
import Foundation
import MTAGuard

struct Playbooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show and validate playbooks.", subcommands: [List.self, Show.self, Validate.self])

    struct List: AsyncParsableCommand {
        @Option(help: "Folder of playbooks.") var playbooks: String = "playbooks"
        func run() async throws {
            let books: [Playbook]
            do { books = try PlaybookLoader.loadAll(folder: playbooks) } catch { throw fail(error) }
            printOut(ItemTable.text(books))
        }
    }

    struct Show: AsyncParsableCommand {
        @Option(help: "Folder of playbooks.") var playbooks: String = "playbooks"
        @Argument(help: "An item id or alias.") var id: String
        func run() async throws {
            do {
                let book = try PlaybookLoader.select(PlaybookLoader.loadAll(folder: playbooks), [id])[0]
                printOut(try String(contentsOfFile: book.source, encoding: .utf8))
            } catch { throw fail(error) }
        }
    }

    struct Validate: AsyncParsableCommand {
        @Option(help: "Folder of playbooks.") var playbooks: String = "playbooks"
        @Argument(help: "Playbook files; default: every one in the folder.") var files: [String] = []
        func run() async throws {
            do {
                if files.isEmpty {
                    let books = try PlaybookLoader.loadAll(folder: playbooks)
                    for b in books { printOut("\(b.source): ok (\(b.id))\n") }
                } else {
                    for f in files {
                        let b = try PlaybookLoader.load(file: f)
                        printOut("\(f): ok (\(b.id))\n")
                    }
                }
            } catch { throw fail(error) }
        }
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// `mtaguard items`: the item table; any id in it selects the item (`--item`).
struct Items: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every item with its ids in KISA 2026, KISA 2021 and 전자금융기반시설, title, 중요도, MTAs and OS families.")
    @Option(help: "Folder of playbooks.") var playbooks: String = "playbooks"
    @Option(help: "text or json.") var format: OutputFormat = .text
    func run() async throws {
        let books: [Playbook]
        do { books = try PlaybookLoader.loadAll(folder: playbooks) } catch { throw fail(error) }
        printOut(format == .json ? ItemTable.json(books) : ItemTable.text(books))
    }
}
