// Tests of the PostfixInstance harness itself, against a real postfix.
// They run in parallel with each other and with the rest of the suite.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("PostfixInstance harness")
struct PostfixInstanceTests {

    @Test("stock config answers VRFY root with 252")
    func vrfyAllowedByDefault() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }

        let replies = try pf.smtp(["EHLO harness.example", "VRFY root"])
        #expect(replies[0].code == 250)
        #expect(replies[0].ehloKeywords.contains("VRFY"), "\(replies[0])")
        #expect(replies[1].code == 252, "\(replies[1])")

        // The instance's config is what `postconf` sees as /etc/postfix inside
        // the namespace, and the machine's own /etc/postfix is a different file.
        let q = try pf.run(["postconf", "-h", "queue_directory"])
        #expect(q.status == 0)
        #expect(q.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == pf.queueDirectory)
        let host = try runCommand(["postconf", "-h", "queue_directory"])
        #expect(host.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != pf.queueDirectory)
    }

    @Test("disable_vrfy_command = yes + postfix reload gives 502 and drops VRFY from EHLO")
    func vrfyDisabledAfterReload() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }

        // Edit /etc/postfix/main.cf from INSIDE the namespace and replace it by
        // rename, as the product does on a live host.
        let edit = try pf.run(["sh", "-c", """
            cp -p /etc/postfix/main.cf /etc/postfix/main.cf.new &&
            echo 'disable_vrfy_command = yes' >> /etc/postfix/main.cf.new &&
            mv /etc/postfix/main.cf.new /etc/postfix/main.cf
            """])
        #expect(edit.status == 0, "\(edit)")
        let mainCF = try String(contentsOfFile: pf.configDirectory + "/main.cf", encoding: .utf8)
        #expect(mainCF.hasSuffix("disable_vrfy_command = yes\n"))

        let check = try pf.run(["postfix", "check"])
        #expect(check.status == 0, "\(check)\n\(pf.logTail())")
        let reload = try pf.run(["postfix", "reload"])
        #expect(reload.status == 0, "\(reload)\n\(pf.logTail())")

        // reload is asynchronous (SIGHUP): retry NEW connections for a moment.
        let replies = try pf.smtp(["EHLO harness.example", "VRFY root"], until: { $0[1].code != 252 })
        #expect(replies[0].code == 250)
        #expect(!replies[0].ehloKeywords.contains("VRFY"), "\(replies[0])")
        #expect(replies[1].code == 502, "\(replies[1])\n\(pf.logTail())")
        #expect(replies[1].text.contains("VRFY command is disabled"))

        // The machine's own config is untouched.
        let host = try runCommand(["postconf", "-h", "disable_vrfy_command"])
        #expect(host.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "no")
    }

    @Test("two instances started concurrently get different ports and both answer")
    func concurrentInstances() throws {
        let results = ResultsBox()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            results.set(i, Result { try PostfixInstance.start() })
        }
        let all = results.all()
        defer { for case .success(let pf) in all { pf.stop() } }

        let instances = try all.map { try $0.get() }
        #expect(instances.count == 2)
        #expect(instances[0].port != instances[1].port)
        #expect(instances[0].root != instances[1].root)
        #expect(instances[0].masterPID() != instances[1].masterPID())
        for pf in instances {
            let replies = try pf.smtp(["EHLO harness.example", "VRFY root"])
            #expect(replies[1].code == 252, "\(replies[1])")
        }

        // Changing one does not change the other.
        let a = instances[0], b = instances[1]
        try ("disable_vrfy_command = yes\n").append(toFile: a.configDirectory + "/main.cf")
        #expect(try a.run(["postfix", "reload"]).status == 0)
        #expect(try a.smtp(["VRFY root"], until: { $0[0].code != 252 })[0].code == 502)
        #expect(try b.smtp(["VRFY root"])[0].code == 252)
    }

    @Test("an instance never shares its port with another postfix (postfix binds with SO_REUSEPORT)")
    func portClashIsDetected() throws {
        let a = try PostfixInstance.start()
        defer { a.stop() }
        let b = try PostfixInstance.start(tryPortFirst: a.port)
        defer { b.stop() }

        #expect(b.port != a.port)
        // b's first master on a.port was stopped: only a's listens there now.
        try ("disable_vrfy_command = yes\n").append(toFile: b.configDirectory + "/main.cf")
        #expect(try b.run(["postfix", "reload"]).status == 0)
        #expect(try b.smtp(["VRFY root"], until: { $0[0].code != 252 })[0].code == 502)
        for _ in 0..<5 {
            #expect(try a.smtp(["VRFY root"])[0].code == 252)
        }
    }

    @Test("after stop() the port refuses connections and the master is gone")
    func stopTearsDown() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }  // no-op after the explicit stop below (idempotent)

        let pid = try #require(pf.masterPID())
        #expect(PostfixInstance.isProcessRunning(pid))
        let port = pf.port
        let root = pf.root

        pf.stop()
        pf.stop()  // idempotent

        #expect(!PostfixInstance.isProcessRunning(pid))
        #expect(!FileManager.default.fileExists(atPath: root))
        let error = #expect(throws: SMTPError.self) { try SMTPClient(port: port, timeout: 2) }
        #expect(error?.isConnectionRefused == true, "\(String(describing: error))")
    }
}

private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<PostfixInstance, any Error>] = [:]
    func set(_ i: Int, _ r: Result<PostfixInstance, any Error>) {
        lock.lock(); results[i] = r; lock.unlock()
    }
    func all() -> [Result<PostfixInstance, any Error>] {
        lock.lock(); defer { lock.unlock() }
        return results.keys.sorted().map { results[$0]! }
    }
}

private extension String {
    func append(toFile path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}
