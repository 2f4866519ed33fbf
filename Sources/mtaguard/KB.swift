import ArgumentParser
import MTAGuard

struct KB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kb", abstract: "The mail-service version knowledge base (U-45).", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the knowledge base: release lines, latest versions, end of life, CVEs, sources, as-of date.")
        @OptionGroup var source: PlaybooksOption
        @Option(help: "Another knowledge base file, e.g. a newer one.") var kb: String?

        func run() async throws {
            do {
                let knowledge = try kb.map { try VersionKnowledge.load(file: $0) } ?? VersionKnowledge.default(playbooks: source.folder)
                printOut(knowledge.describe())
            } catch { throw fail(error) }
        }
    }
}
