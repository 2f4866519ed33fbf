// A machine user of one test's own, not root: it logs in to an SSHLab host with the lab key
// (sshd there reads AuthorizedKeysFile DIR/authorized_keys.%u as that user) and runs local
// commands through setpriv. Named "facts-" and a random suffix, in the machine's `users` group
// (no group of its own), and removed by `remove()`, which the test defers right after `create`.
//
//     let login = try NonRootLogin.create()                      // before the lab starts
//     defer { login.remove() }
//     let lab = try SSHLab.start(hosts: ["h1"]); defer { lab.stop() }
//     try login.authorize(lab)
//     let r = try login.run([Repo.binary, "check", "--root", image])

import Foundation

struct NonRootLogin {
    let name: String
    let home: String

    /// The user, made before the lab starts: a host's /etc is an overlay whose lower layer
    /// a session sees as it was cached (a user added later may be unknown there).
    static func create(prefix: String = "facts-") throws -> NonRootLogin {
        let name = prefix + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 36)
        let home = NSTemporaryDirectory() + "mtaguard-home-" + name
        let add = try runCommand(["useradd", "-M", "-N", "-g", "users", "-d", home, "-s", "/bin/sh", name])
        guard add.status == 0 else { throw SSHLabError(description: "useradd \(name): \(add)") }
        let login = NonRootLogin(name: name, home: home)
        do {
            // useradd makes a locked account ("!"), which sshd refuses without PAM.
            let unlock = try runCommand(["usermod", "-p", "*", name])
            guard unlock.status == 0 else { throw SSHLabError(description: "usermod \(name): \(unlock)") }
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            _ = try runCommand(["chown", name + ":users", home])
        } catch {
            login.remove()
            throw error
        }
        return login
    }

    /// Lets the user log in to `lab`'s hosts with the lab key.
    func authorize(_ lab: SSHLab) throws {
        let keys = lab.directory + "/authorized_keys." + name
        try FileManager.default.copyItem(atPath: lab.privateKeyPath + ".pub", toPath: keys)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keys)
    }

    /// Removes the user and its home; never throws.
    func remove() {
        _ = try? runCommand(["userdel", name])
        try? FileManager.default.removeItem(atPath: home)
    }

    /// `argv` run on this machine as this user (setpriv: its uid, the users group, no others).
    func run(_ argv: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let env = ["HOME": home].merging(environment) { _, new in new }
        return try runCommand(
            ["setpriv", "--reuid=\(name)", "--regid=users", "--clear-groups", "--"] + argv, environment: env,
            currentDirectory: home)
    }
}
