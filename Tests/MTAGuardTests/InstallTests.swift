import Foundation
import Testing

/// `make install`: the tree it writes (make test installs into .build/install-test and passes
/// that prefix as MTAGUARD_INSTALLED), run from folders that are not the checkout.
@Suite(.serialized) struct InstallTests {
    /// The prefix make test installed into.
    static let installed = ProcessInfo.processInfo.environment["MTAGUARD_INSTALLED"] ?? ""

    /// No development override may leak into a run of the installed binary.
    static let clean = ["MTAGUARD_PLAYBOOKS": "", "MTAGUARD_LENSES": ""]

    /// A copy of the installed tree somewhere else: the binary must find its files from its own
    /// path, wherever the tree is (DESTDIR staging, a moved /opt tree).
    func relocated(_ dir: TempDir) throws -> String {
        try #require(!Self.installed.isEmpty, "MTAGUARD_INSTALLED is unset: run make test (it runs make install PREFIX=.build/install-test first)")
        let copy = dir.path + "/opt/mtaguard"
        try FileManager.default.createDirectory(atPath: dir.path + "/opt", withIntermediateDirectories: true)
        let r = try runCommand(["cp", "-a", Self.installed, copy])
        try #require(r.succeeded, "\(r)")
        return copy
    }

    func files(under root: String) throws -> [String] {
        let e = try #require(FileManager.default.enumerator(atPath: root))
        var out: [String] = []
        while let f = e.nextObject() as? String {
            var dir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + f, isDirectory: &dir), !dir.boolValue { out.append(f) }
        }
        return out.sorted()
    }

    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("the tree: a binary, the repository's playbooks, knowledge base and lenses byte for byte, man page, completions")
    func layout() throws {
        let dir = try TempDir("install")
        defer { dir.remove() }
        let p = try relocated(dir)
        #expect(try mode(p + "/bin/mtaguard") == 0o755)

        let books = try files(under: Repo.playbooks).filter { $0.hasSuffix(".yaml") }
        #expect(books.contains("kb/mail-versions.yaml"))
        #expect(try files(under: p + "/share/mtaguard/playbooks") == books)
        for b in books {
            #expect(try Data(contentsOf: URL(fileURLWithPath: p + "/share/mtaguard/playbooks/" + b))
                == Data(contentsOf: URL(fileURLWithPath: Repo.playbooks + "/" + b)), "\(b)")
            #expect(try mode(p + "/share/mtaguard/playbooks/" + b) == 0o644)
        }
        let lensSource = Repo.root + "/Sources/MTAGuard/Resources/lenses"
        let lenses = try files(under: lensSource)
        #expect(lenses.contains("sendmail_cf.aug"))
        #expect(try files(under: p + "/share/mtaguard/lenses") == lenses)
        for l in lenses {
            #expect(try Data(contentsOf: URL(fileURLWithPath: p + "/share/mtaguard/lenses/" + l))
                == Data(contentsOf: URL(fileURLWithPath: lensSource + "/" + l)), "\(l)")
        }

        // The man page (mdoc, from generate-manual): man renders it without a warning, with every
        // subcommand, the options, and the Korean that generate-manual alone would have dropped.
        let page = p + "/share/man/man1/mtaguard.1"
        let source = try String(contentsOfFile: page, encoding: .utf8)
        #expect(source.contains(".Dt MTAGUARD 1"))
        #expect(!source.contains("\\e[u"), "an escaped glyph was left: \(source)")
        let man = try runCommand(
            ["man", "--warnings", "-E", "UTF-8", "-l", page], environment: ["LANG": "C.UTF-8", "MANWIDTH": "200", "MANPAGER": "cat"])
        #expect(man.succeeded, "\(man)")
        #expect(man.stderr.isEmpty, "man warned: \(man.stderr)")
        for sub in ["check", "plan", "apply", "rollback", "runs", "items", "playbooks", "kb"] {
            let heading = "     " + sub
            #expect(man.stdout.split(separator: "\n").contains { $0 == heading || $0.hasPrefix(heading + " ") }, "the man page lacks \(sub)")
        }
        for text in ["--playbooks", "--exceptions", "(SRV-005 …)", "양호 (pass), 취약 (fail), 수동 확인 (review), 해당 없음 (n/a), 오류 (error)"] {
            #expect(man.stdout.contains(text), "the rendered man page lacks \(text)")
        }

        // Completions: bash parses it and it completes the subcommands; zsh and fish name the tool.
        let bash = p + "/share/bash-completion/completions/mtaguard"
        let parsed = try runCommand(["bash", "-n", bash])
        #expect(parsed.succeeded, "\(parsed)")
        let words = try runCommand(["bash", "-c", """
            source "$1"; COMP_WORDS=(mtaguard ""); COMP_CWORD=1; COMP_LINE="mtaguard "; COMP_POINT=9
            _mtaguard; printf '%s\\n' "${COMPREPLY[@]}"
            """, "x", bash])
        #expect(words.succeeded, "\(words)")
        #expect(Set(words.stdout.split(separator: "\n").map(String.init)).isSuperset(of: ["check", "plan", "apply", "rollback"]), "\(words)")
        #expect(try String(contentsOfFile: p + "/share/zsh/site-functions/_mtaguard", encoding: .utf8).hasPrefix("#compdef mtaguard"))
        #expect(try String(contentsOfFile: p + "/share/fish/vendor_completions.d/mtaguard.fish", encoding: .utf8).contains("complete -c 'mtaguard'")
            || String(contentsOfFile: p + "/share/fish/vendor_completions.d/mtaguard.fish", encoding: .utf8).contains("complete -c mtaguard"))
    }

    @Test("from a folder without playbooks the installed binary reads its own, and checks, plans and fixes as the built one does")
    func fromAnywhere() throws {
        let dir = try TempDir("install")
        defer { dir.remove() }
        let bin = try relocated(dir) + "/bin/mtaguard"
        let elsewhere = dir.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let env = Self.clean.merging(["MTAGUARD_BACKUPS": dir.path + "/backups"]) { $1 }

        let items = try runCommand([bin, "items", "--format", "json"], environment: env, currentDirectory: elsewhere)
        #expect(items.succeeded, "\(items)")
        let built = try runCommand([Repo.binary, "items", "--format", "json", "--playbooks", Repo.playbooks])
        #expect(items.stdout == built.stdout)
        #expect(items.stdout.contains("SRV-005"))

        let kb = try runCommand([bin, "kb", "show"], environment: env, currentDirectory: elsewhere)
        #expect(kb.succeeded, "\(kb)")
        #expect(kb.stdout.lowercased().contains("postfix"))

        // The same offline host, once through each binary: the same findings and the same fix.
        for host in ["postfix-host", "sendmail-host"] {
            var roots: [String] = []
            for (n, binary) in [(0, bin), (1, Repo.binary)] {
                let root = dir.path + "/\(host)-\(n)"
                let cp = try runCommand(["cp", "-a", Repo.root + "/examples/demo/" + host, root])
                try #require(cp.succeeded)
                roots.append(root)
                let args = n == 0 ? [] : ["--playbooks", Repo.playbooks]
                let check = try runCommand([binary, "check", "--root", root] + args, environment: env, currentDirectory: elsewhere)
                #expect(check.status == 2, "\(check)")
                #expect(check.stdout.contains("취약") || check.stdout.contains("FAIL"), "\(check)")
                let apply = try runCommand([binary, "apply", "--root", root, "--yes"] + args, environment: env, currentDirectory: elsewhere)
                #expect(apply.status == 0, "\(apply)")
                let again = try runCommand([binary, "check", "--root", root] + args, environment: env, currentDirectory: elsewhere)
                #expect(again.status == 0, "\(again)")
            }
            let a = try files(under: roots[0] + "/etc"), b = try files(under: roots[1] + "/etc")
            #expect(a == b)
            for f in a {
                #expect(try Data(contentsOf: URL(fileURLWithPath: roots[0] + "/etc/" + f))
                    == Data(contentsOf: URL(fileURLWithPath: roots[1] + "/etc/" + f)), "\(host): \(f)")
            }
        }
    }

    @Test("--playbooks beats MTAGUARD_PLAYBOOKS, which beats ./playbooks, which beats the installed ones")
    func lookupOrder() throws {
        let dir = try TempDir("install")
        defer { dir.remove() }
        let bin = try relocated(dir) + "/bin/mtaguard"
        func folder(_ name: String, _ books: [String]) throws -> String {
            let f = dir.path + "/" + name
            for b in books + ["kb/mail-versions.yaml"] {
                try dir.write(name + "/" + b, Repo.playbookData(b))
            }
            return f
        }
        let cwd = try folder("cwd/playbooks", ["srv-005.yaml"])
        let fromEnv = try folder("env", ["u-46.yaml"])
        let explicit = try folder("explicit", ["srv-170.yaml"])
        let workdir = (cwd as NSString).deletingLastPathComponent
        func ids(_ args: [String], env: [String: String] = [:], in folder: String) throws -> String {
            let r = try runCommand([bin, "items"] + args, environment: Self.clean.merging(env) { $1 }, currentDirectory: folder)
            try #require(r.succeeded, "\(r)")
            return r.stdout
        }
        let empty = dir.path + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(try ids([], in: empty).contains("SRV-004"))  // the installed ones: all of them
        let local = try ids([], in: workdir)
        #expect(local.contains("SRV-005") && !local.contains("SRV-004"), "\(local)")
        let env = try ids([], env: ["MTAGUARD_PLAYBOOKS": fromEnv], in: workdir)
        #expect(env.contains("U-46") && !env.contains("SRV-005"), "\(env)")
        let flag = try ids(["--playbooks", explicit], env: ["MTAGUARD_PLAYBOOKS": fromEnv], in: workdir)
        #expect(flag.contains("SRV-170") && !flag.contains("U-46") && !flag.contains("SRV-005"), "\(flag)")
    }

    @Test("a tree without its lenses or playbooks fails with where it looked, and changes nothing")
    func missingParts() throws {
        let dir = try TempDir("install")
        defer { dir.remove() }
        let prefix = try relocated(dir)
        let bin = prefix + "/bin/mtaguard"
        let root = dir.path + "/host"
        try #require(try runCommand(["cp", "-a", Repo.root + "/examples/demo/postfix-host", root]).succeeded)
        let before = try Data(contentsOf: URL(fileURLWithPath: root + "/etc/postfix/main.cf"))
        let env = Self.clean.merging(["MTAGUARD_BACKUPS": dir.path + "/backups"]) { $1 }

        try FileManager.default.removeItem(atPath: prefix + "/share/mtaguard/lenses")
        let noLenses = try runCommand([bin, "apply", "--root", root, "--yes"], environment: env, currentDirectory: dir.path)
        #expect(noLenses.status == 1, "\(noLenses)")
        #expect(noLenses.stdout.contains("cannot find mtaguard's lenses") || noLenses.stderr.contains("cannot find mtaguard's lenses"), "\(noLenses)")
        #expect((noLenses.stdout + noLenses.stderr).contains(prefix + "/share/mtaguard/lenses"), "\(noLenses)")
        // Once, before any host is read: not once per item.
        #expect((noLenses.stdout + noLenses.stderr).components(separatedBy: "cannot find mtaguard's lenses").count == 2, "\(noLenses)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/etc/postfix/main.cf")) == before)

        // A wrong MTAGUARD_LENSES is named, not passed over for another folder.
        let wrong = try runCommand(
            [Repo.binary, "check", "--root", root, "--playbooks", Repo.playbooks],
            environment: env.merging(["MTAGUARD_LENSES": dir.path + "/no-lenses"]) { $1 }, currentDirectory: dir.path)
        #expect(wrong.status == 1, "\(wrong)")
        #expect(wrong.stderr.contains(dir.path + "/no-lenses: cannot find mtaguard's lenses (looked in \(dir.path)/no-lenses)"), "\(wrong)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/etc/postfix/main.cf")) == before)

        try FileManager.default.removeItem(atPath: prefix + "/share/mtaguard/playbooks")
        let noBooks = try runCommand([bin, "check", "--root", root], environment: env, currentDirectory: dir.path)
        #expect(noBooks.status == 1, "\(noBooks)")
        #expect(noBooks.stderr.contains("cannot list the playbooks folder"), "\(noBooks)")
        #expect(noBooks.stderr.contains("./playbooks, then \(prefix)/share/mtaguard/playbooks"), "\(noBooks)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/etc/postfix/main.cf")) == before)
    }

    @Test("make demo and make install ask apt for the build packages only, not the tests' (chromium, sendmail-cf, postfix)")
    func buildPackagesOnly() throws {
        let build: Set<String> = ["libaugeas-dev", "augeas-lenses", "pkg-config", "libxlsxwriter-dev"]
        for target in ["demo", "install", "build"] {
            // The outer make's flags must not reach this one.
            let r = try runCommand(
                ["make", "-n", target], environment: ["MAKEFLAGS": "", "MFLAGS": "", "MAKELEVEL": ""], currentDirectory: Repo.root)
            #expect(r.succeeded, "\(r)")
            let asked = r.stdout.split(separator: "\n").filter { $0.contains(" apt PACKAGES=") }
            #expect(asked.count == 1, "\(target): \(r.stdout)")
            let packages = asked.first.map { line in
                Set(line.split(separator: "\"")[1].split(separator: " ").map(String.init))
            }
            #expect(packages == build, "\(target)")
        }
        let test = try runCommand(
            ["make", "-n", "deps"], environment: ["MAKEFLAGS": "", "MFLAGS": "", "MAKELEVEL": ""], currentDirectory: Repo.root)
        for p in build.union(["chromium", "sendmail-cf", "postfix", "man-db", "libreoffice-calc-nogui"]) {
            #expect(test.stdout.contains(" \(p)"), "make test's packages lack \(p)")
        }
    }

    @Test("make uninstall removes every file make install wrote")
    func uninstall() throws {
        let dir = try TempDir("install")
        defer { dir.remove() }
        let prefix = try relocated(dir)
        let r = try runCommand(["bash", Repo.root + "/scripts/install.sh", "--remove", prefix])
        #expect(r.succeeded, "\(r)")
        #expect(try files(under: prefix) == [])
    }
}

extension Repo {
    /// A file of the repository's playbooks folder.
    static func playbookData(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: playbooks + "/" + relative))
    }
}
