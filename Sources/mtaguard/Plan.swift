import ArgumentParser
import Foundation
import MTAGuard

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dry-run: the unified diff of every file and every command that apply would run. Changes nothing.",
        discussion: """
            With --out FILE the whole plan (mtaguard.plan/2: diffs, new bytes, actions and their \
            inverses, the checksums it was made from, the playbooks' digest) is written to FILE, \
            readable by its owner only, and its SHA-256 is printed for the change ticket; \
            `apply --plan FILE` then applies exactly that plan.
            """)

    @OptionGroup var common: CommonOptions
    @Option(help: "text, or json (the plan document, mtaguard.plan/2).") var format: OutputFormat = .text
    @Option(help: "Also write the plan document to this file, for review and `apply --plan`.") var out: String?

    func run() async throws {
        let session = common.session
        let plans: [HostPlan]
        var document: PlanDocument?
        do {
            plans = try await session.plan()
            if format == .json || out != nil { document = try session.planDocument(plans) }
        } catch { throw fail(error) }
        let data = document?.encoded()
        printOut(format == .json ? String(decoding: data!, as: UTF8.self) : TextReport.plan(plans))
        if let out, let data {
            do {
                try PlanFile.write(data, to: out)
            } catch { throw fail(error) }
            let line = "plan written to \(out)\nsha256 \(data.sha256Hex)  \(out)\n"
            if format == .json { FileHandle.standardError.write(Data(line.utf8)) } else { printOut(line) }
        }
        let code = Session.planExitCode(plans)
        if code != 0 { throw ExitCode(code) }
    }
}
