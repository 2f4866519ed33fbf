import ArgumentParser
import Foundation
import MTAGuard

struct Playbooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show and validate playbooks.", subcommands: [List.self, Show.self, Validate.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var source: PlaybooksOption
        func run() async throws {
            let books: [Playbook]
            do { books = try PlaybookLoader.loadAll(folder: source.folder) } catch { throw fail(error) }
            printOut(ItemTable.text(books))
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var source: PlaybooksOption
        @Argument(help: "An item id or alias.") var id: String
        func run() async throws {
            do {
                let book = try PlaybookLoader.select(PlaybookLoader.loadAll(folder: source.folder), [id])[0]
                printOut(try String(contentsOfFile: book.source, encoding: .utf8))
            } catch { throw fail(error) }
        }
    }

    struct Validate: AsyncParsableCommand {
        @OptionGroup var source: PlaybooksOption
        @Argument(help: "Playbook files; default: every one in the folder.") var files: [String] = []
        func run() async throws {
            do {
                if files.isEmpty {
                    let books = try PlaybookLoader.loadAll(folder: source.folder)
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

/// `--playbooks DIR`, and where the playbooks are without it (Resources.playbooksFolder).
struct PlaybooksOption: ParsableArguments {
    @Option(name: .long, help: "Folder of playbooks (default: $MTAGUARD_PLAYBOOKS, else ./playbooks, else the installed PREFIX/share/mtaguard/playbooks).")
    var playbooks: String?

    var folder: String { Resources.playbooksFolder(explicit: playbooks) }
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
    @OptionGroup var source: PlaybooksOption
    @Option(help: "text or json.") var format: OutputFormat = .text
    func run() async throws {
        let books: [Playbook]
        do { books = try PlaybookLoader.loadAll(folder: source.folder) } catch { throw fail(error) }
        printOut(format == .json ? ItemTable.json(books) : ItemTable.text(books))
    }
}
