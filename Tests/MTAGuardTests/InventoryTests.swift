import Foundation
import Testing

@testable import MTAGuard

@Suite struct InventoryTests {
    /// The error `parse` throws for `text`, as printed.
    func error(_ file: String, _ text: String) -> String {
        do {
            _ = try Inventory.parse(file: file, text: text)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func limitError(_ inventory: Inventory, _ limit: String) -> String {
        do {
            _ = try inventory.select(limit: limit)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func names(_ inventory: Inventory, _ limit: String?) throws -> [String] {
        try inventory.select(limit: limit).map(\.name)
    }

    func host(_ inventory: Inventory, _ name: String) throws -> InventoryHost {
        try #require(inventory.hosts.first { $0.name == name })
    }

    static let fleetHosts = [
        "bastion.example.com", "mx01.example.com", "mx02.example.com", "mx03.example.com",
        "relay-a.example.com", "relay-b.example.com", "sola.example.com", "solb.example.com",
        "aix01.example.com", "hpux01.example.com",
    ]

    // MARK: Fixtures

    @Test func realisticINIFleet() throws {
        let inv = try Inventory.load(files: [Repo.fixture("inventory/fleet.ini")])
        #expect(inv.hosts.map(\.name) == Self.fleetHosts)

        let bastion = try host(inv, "bastion.example.com")
        #expect(bastion.groups == ["all", "ungrouped"])
        #expect(bastion.port == 2200)
        #expect(bastion.user == "audit")
        #expect(bastion.become)
        #expect(bastion.mode == "fix")
        #expect(bastion.address == "bastion.example.com")
        #expect(bastion.privateKeyFile == "~/.ssh/mtaguard_ed25519")

        let relayA = try host(inv, "relay-a.example.com")
        #expect(relayA.groups == ["all", "linux", "mail"])
        #expect(relayA.address == "10.0.0.21")
        #expect(relayA.port == 2222)
        #expect(relayA.vars["smtp_banner"] == "$j ESMTP ready")
        #expect(relayA.vars["site"] == "mail")

        let relayB = try host(inv, "relay-b.example.com")
        #expect(relayB.vars["note"] == "primary relay; do not reboot")
        #expect(relayB.port == 2223)

        let sol = try host(inv, "sola.example.com")
        #expect(sol.groups == ["all", "legacy", "mail", "solaris", "unix"])
        #expect(sol.user == "root")
        #expect(sol.mode == "disable")
        #expect(!sol.become)
        #expect(sol.port == nil)
        // legacy and mail are both one level below all: the later name wins.
        #expect(sol.vars["site"] == "mail")

        let aix = try host(inv, "aix01.example.com")
        #expect(aix.groups == ["aix", "all", "legacy", "mail", "unix"])
        #expect(aix.mode == "check")  // aix is deeper than unix
        #expect(aix.port == 2201)
        #expect(aix.user == "audit")

        let hpux = try host(inv, "hpux01.example.com")
        #expect(hpux.vars["motd"] == "legacy box: `uname -a` $HOME")
        #expect(hpux.mode == "disable")

        #expect(inv.groups["unix"] == ["sola.example.com", "solb.example.com", "aix01.example.com", "hpux01.example.com"])
        #expect(inv.groups["linux"] == Array(Self.fleetHosts[1...5]))
        #expect(inv.groups["mail"] == Array(Self.fleetHosts[1...]))
        #expect(inv.groups["ungrouped"] == ["bastion.example.com"])
        #expect(inv.groups["all"] == Self.fleetHosts)
        #expect(Set(inv.groups.keys) == ["all", "ungrouped", "linux", "solaris", "aix", "hpux", "unix", "legacy", "mail"])
    }

    @Test func realisticYAMLFleetMatchesTheINIOne() throws {
        let ini = try Inventory.load(files: [Repo.fixture("inventory/fleet.ini")])
        let yaml = try Inventory.load(files: [Repo.fixture("inventory/fleet.yml")])
        #expect(yaml.hosts.map(\.name) == Self.fleetHosts)
        for (a, b) in zip(ini.hosts, yaml.hosts) { #expect(a == b) }
        #expect(ini.groups == yaml.groups)
        let aix = try host(yaml, "aix01.example.com")
        #expect(aix.vars["ansible_port"] == "2201")
        #expect(aix.vars["ansible_become"] == "false")
        #expect(aix.mode == "check")
    }

    @Test func limitsOnTheFleet() throws {
        let inv = try Inventory.load(files: [Repo.fixture("inventory/fleet.ini")])
        #expect(try names(inv, nil) == Self.fleetHosts)
        #expect(try names(inv, "") == Self.fleetHosts)
        #expect(try names(inv, "all") == Self.fleetHosts)
        #expect(try names(inv, "*") == Self.fleetHosts)
        #expect(try names(inv, "aix") == ["aix01.example.com"])
        #expect(try names(inv, "hpux01.example.com") == ["hpux01.example.com"])
        // Result in inventory order, whatever the order of the patterns; no duplicates.
        #expect(try names(inv, "hpux:solaris,unix") == Array(Self.fleetHosts[6...]))
        #expect(try names(inv, "unix:&mail:!aix") == ["sola.example.com", "solb.example.com", "hpux01.example.com"])
        #expect(try names(inv, "!aix:unix") == ["sola.example.com", "solb.example.com", "hpux01.example.com"])
        #expect(try names(inv, "&unix") == Array(Self.fleetHosts[6...]))
        #expect(try names(inv, "!mail") == ["bastion.example.com"])
        #expect(try names(inv, "mx0?.example.com:!mx02*") == ["mx01.example.com", "mx03.example.com"])
        // Globs match group names too.
        #expect(try names(inv, "l*") == Array(Self.fleetHosts[1...5]) + Array(Self.fleetHosts[6...]))
        #expect(try names(inv, "*aix*") == ["aix01.example.com"])
        #expect(try names(inv, "all:!nothing-like-this") == Self.fleetHosts)
        #expect(try names(inv, " aix , hpux ") == ["aix01.example.com", "hpux01.example.com"])
    }

    @Test func limitsThatMatchNothingAreErrors() throws {
        let inv = try Inventory.load(files: [Repo.fixture("inventory/fleet.ini")])
        #expect(limitError(inv, "aix:nosuch").contains("'nosuch' matches no host or group"))
        #expect(limitError(inv, "all:&web*").contains("'web*' matches no host or group"))
        #expect(limitError(inv, "~mx.*").contains("not supported"))
        #expect(limitError(inv, "linux[0]").contains("not supported"))
        #expect(limitError(inv, "!").contains("must be followed"))
        let empty = try Inventory.parse(file: "e", text: "[web]\n[db]\nh1\n")
        #expect(limitError(empty, "web").contains("the group 'web' is empty"))
        #expect(try names(empty, "all:!web") == ["h1"])
    }

    // MARK: INI

    @Test func iniBasics() throws {
        let text = """
            # comment
            ; another comment
            loose1   a=1

            loose2
            [web]
            web[01:03].example.com http_port=8080
            db1 role=both   # trailing comment
            [db]
            db[a:c] quoted="two words" single='it "is" here' empty= shell=$(rm) tick=`x` semi=a;b hash=a#b
            db[1:9:4]
            db1 role=db extra=1
            [web:vars]
            greeting = hello world  # comment
            quoted = "  padded # not a comment "
            eq=a=b
            """
        let inv = try Inventory.parse(file: "hosts", text: text)
        #expect(inv.hosts.map(\.name) == [
            "loose1", "loose2", "web01.example.com", "web02.example.com", "web03.example.com", "db1",
            "dba", "dbb", "dbc", "db5", "db9",
        ])
        #expect(try host(inv, "loose1").vars == ["a": "1"])
        #expect(try host(inv, "loose2").groups == ["all", "ungrouped"])
        let db1 = try host(inv, "db1")
        #expect(db1.groups == ["all", "db", "web"])
        #expect(db1.vars["role"] == "db")
        #expect(db1.vars["extra"] == "1")
        #expect(db1.vars["greeting"] == "hello world")
        let dba = try host(inv, "dba")
        #expect(dba.vars == [
            "quoted": "two words", "single": "it \"is\" here", "empty": "", "shell": "$(rm)", "tick": "`x`",
            "semi": "a;b", "hash": "a#b",
        ])
        let web = try host(inv, "web02.example.com")
        #expect(web.vars == [
            "http_port": "8080", "greeting": "hello world", "quoted": "  padded # not a comment ", "eq": "a=b",
        ])
        #expect(inv.groups["web"] == ["web01.example.com", "web02.example.com", "web03.example.com", "db1"])
        #expect(inv.groups["db"] == ["db1", "dba", "dbb", "dbc", "db5", "db9"])
        #expect(inv.groups["ungrouped"] == ["loose1", "loose2"])
    }

    @Test func iniChildrenAndPrecedence() throws {
        let text = """
            [all:vars]
            a=all
            b=all
            c=all
            d=all
            [top:children]
            mid
            [top:vars]
            a=top
            b=top
            c=top
            [mid:children]
            leaf
            [mid:vars]
            b=mid
            c=mid
            [leaf]
            h1 c=host
            h2
            [zeta]
            h2
            [zeta:vars]
            a=zeta
            [alpha]
            h2
            [alpha:vars]
            a=alpha
            d=alpha
            """
        let inv = try Inventory.parse(file: "inv", text: text)
        let h1 = try host(inv, "h1")
        #expect(h1.groups == ["all", "leaf", "mid", "top"])
        #expect(h1.vars == ["a": "top", "b": "mid", "c": "host", "d": "all"])
        let h2 = try host(inv, "h2")
        #expect(h2.groups == ["all", "alpha", "leaf", "mid", "top", "zeta"])
        // top, zeta and alpha are at depth 1, sorted by name: zeta (later) wins over alpha and top.
        #expect(h2.vars == ["a": "zeta", "b": "mid", "c": "mid", "d": "alpha"])
        #expect(inv.groups["top"] == ["h1", "h2"])
        #expect(inv.groups["ungrouped"] == [])
    }

    @Test func hostPortSyntaxAndExplicitPortWins() throws {
        let inv = try Inventory.parse(file: "inv", text: "\u{FEFF}a:2201\r\nb:2202 ansible_port=2203\r\nfe80::1\n")
        #expect(try host(inv, "a").port == 2201)
        #expect(try host(inv, "b").port == 2203)
        #expect(try host(inv, "fe80::1").port == nil)
    }

    // MARK: YAML

    @Test func yamlBasics() throws {
        let text = """
            all:
              vars:
                ansible_become: yes
                count: 3
                nothing:
                list: [a, 1, true]
                map: {k: v}
              hosts:
                h1: {ansible_port: 2201, flag: on}
                h2:
              children:
                web:
                  hosts:
                    w[1:2]: null
                    h1:
                  vars: {role: web}
                  children:
                    canary:
                      hosts: {w2: {role: canary}}
            db:
              hosts: d1
            """
        let inv = try Inventory.parse(file: "inventory", text: text)
        #expect(inv.hosts.map(\.name) == ["h1", "h2", "w1", "w2", "d1"])
        let h1 = try host(inv, "h1")
        #expect(h1.port == 2201)
        #expect(h1.become)
        #expect(h1.vars["flag"] == "true")
        #expect(h1.vars["count"] == "3")
        #expect(h1.vars["nothing"] == "")
        #expect(h1.vars["list"] == #"["a", 1, true]"#)
        #expect(h1.vars["map"] == #"{"k": "v"}"#)
        #expect(h1.groups == ["all", "web"])
        #expect(try host(inv, "h2").groups == ["all", "ungrouped"])
        #expect(try host(inv, "w2").groups == ["all", "canary", "web"])
        #expect(try host(inv, "w2").vars["role"] == "canary")
        #expect(try host(inv, "w1").vars["role"] == "web")
        #expect(try host(inv, "d1").groups == ["all", "db"])
        #expect(inv.groups["web"] == ["h1", "w1", "w2"])
        #expect(inv.groups["canary"] == ["w2"])
    }

    @Test func formatDetection() throws {
        // YAML by content, whatever the name.
        let yaml = try Inventory.parse(file: "hosts", text: "all:\n  hosts:\n    h1:\n")
        #expect(yaml.hosts.map(\.name) == ["h1"])
        // A YAML name forces YAML, and the error says so.
        let message = error("hosts.yml", "[web]\nh1\n")
        #expect(message.hasPrefix("hosts.yml:"), "\(message)")
        #expect(message.contains("read as an Ansible YAML inventory"), "\(message)")
        // Plain host lists are INI.
        let ini = try Inventory.parse(file: "hosts", text: "h1\nh2 a=b\n")
        #expect(ini.hosts.map(\.name) == ["h1", "h2"])
        #expect(error("hosts", "[web]\nh1 junk\n").contains("read as an Ansible INI inventory"))
        // An empty file is an empty inventory.
        #expect(try Inventory.parse(file: "hosts", text: "# nothing yet\n").hosts.isEmpty)
    }

    // MARK: Several files

    @Test func severalFilesMerge() throws {
        let dir = try TempDir("inventory")
        defer { dir.remove() }
        let first = dir.path + "/base.ini"
        let second = dir.path + "/extra.yml"
        try "h1 a=1 b=1\n[web]\nh2\n[web:vars]\nrole=web\n".write(toFile: first, atomically: true, encoding: .utf8)
        try """
            all:
              children:
                web:
                  vars: {role: frontend}
                  hosts:
                    h1: {b: 2}
                    h3:
            """.write(toFile: second, atomically: true, encoding: .utf8)
        let inv = try Inventory.load(files: [first, second])
        #expect(inv.hosts.map(\.name) == ["h1", "h2", "h3"])
        let h1 = try host(inv, "h1")
        #expect(h1.vars == ["a": "1", "b": "2", "role": "frontend"])
        #expect(h1.groups == ["all", "web"])
        #expect(inv.groups["web"] == ["h1", "h2", "h3"])
        #expect(inv.groups["ungrouped"] == [])

        // A later INI file may set vars of a group defined in an earlier one.
        let third = dir.path + "/vars"
        try "[web:vars]\nrole=late\n".write(toFile: third, atomically: true, encoding: .utf8)
        #expect(try host(Inventory.load(files: [first, third]), "h2").vars["role"] == "late")

        do {
            _ = try Inventory.load(files: [first, dir.path + "/missing.ini"])
            Issue.record("no error")
        } catch {
            #expect("\(error)".hasPrefix(dir.path + "/missing.ini: no such inventory file"), "\(error)")
        }
    }

    // MARK: Errors

    @Test func iniErrorsNameFileAndLine() {
        let cases: [(String, String, String)] = [
            ("h1\n\n[x:foo]\n", "inv:3: unknown section type ':foo' in [x:foo]", "expected [x], [x:vars] or [x:children]"),
            ("[web:children]\ndb\n[other]\nh1\n", "inv:2: [web:children] names group 'db', which is never defined", ""),
            ("[a:children]\nb\n[b:children]\na\n", "inv:4: making 'a' a child of 'b' creates a cycle: b → a → b", ""),
            ("[a:children]\na\n", "inv:2: group 'a' cannot be a child of itself", ""),
            ("[web]\nh1 port 22\n", "inv:2: expected key=value after the host name, found 'port'", ""),
            ("[web]\nh1\n[web:vars]\n\nport\n", "inv:5: expected key=value in [web:vars], found 'port'", ""),
            ("[web]\nh1 =3\n", "inv:2: '' is not a variable name", ""),
            ("[web]\nh1 a=\"open\n", "inv:2: unterminated \" quote", ""),
            ("[web]\nweb[3:1]\n", "inv:2: 'web[3:1]': the range starts at 3, after its end 1", ""),
            ("[web]\nweb[01:100]\n", "inv:2: 'web[01:100]': a zero-padded range needs", ""),
            ("[web]\nweb[a:3]\n", "inv:2: 'web[a:3]': the range [a:3] is neither numbers nor single letters", ""),
            ("[web]\nweb[1:3\n", "inv:2: 'web[1:3' has '[' without a closing ']'", ""),
            ("[web]\n-oProxyCommand=evil\n", "inv:2: invalid host name '-oProxyCommand=evil': starts with '-'", ""),
            ("[web]\na/b\n", "inv:2: invalid host name 'a/b': contains '/'", ""),
            ("[web]\n\"a b\"\n", "inv:2: invalid host name 'a b': contains whitespace", ""),
            ("[web]\nh\u{01}x\n", "inv:2: invalid host name 'h\u{01}x': contains a control character (U+0001)", ""),
            ("[web]\n\"\"\n", "inv:2: invalid host name '': is empty", ""),
            ("[db:vars]\na=1\n", "inv:1: [db:vars] sets variables of group 'db', which is never defined", ""),
            ("[web]\nh1:99999\n", "inv:2: 'h1:99999': port '99999' is not a number", ""),
            ("[web]\nh1 ansible_port=ssh\n", "inv:2: ansible_port 'ssh' is not a port number", ""),
            ("[web]\nh1 ansible_host=-oX\n", "inv:2: ansible_host '-oX' starts with '-'", ""),
            ("[web]\nh1 a=1 a=2\n", "inv:2: variable 'a' is set twice on this line", ""),
            ("[web]\nh1\n[web:vars]\na=1\na=2\n", "inv:5: variable 'a' is set twice in [web:vars]", ""),
            ("[web server]\n", "inv:1: [web server]: the group name 'web server' contains ' '", ""),
            ("[web\n", "inv:1: section header '[web' has no closing ']'", ""),
            ("[web]\nh1\n[web:vars]\nv=\"a\" b\n", "inv:4: unexpected 'b' after the quoted value", ""),
        ]
        for (text, prefix, fragment) in cases {
            let message = error("inv", text)
            #expect(message.hasPrefix(prefix), "\(message)")
            #expect(fragment.isEmpty || message.contains(fragment), "\(message)")
            #expect(message.contains("read as an Ansible INI inventory"), "\(message)")
        }
    }

    @Test func cyclesAcrossFilesAndYAMLAreFound() {
        let text = """
            a:
              children:
                b:
            b:
              children:
                a:
            """
        let message = error("inv.yml", text)
        #expect(message.hasPrefix("inv.yml:6:5: b.children: making 'a' a child of 'b' creates a cycle: b → a → b"),
                "\(message)")
    }

    @Test func yamlErrorsNameFileLineAndColumn() {
        let cases: [(String, String)] = [
            ("- h1\n- h2\n", "inv.yml:1:1: expected a mapping of groups at the top"),
            ("all:\n  hosts:\n    - h1\n", "inv.yml:3:5: all.hosts: the hosts of group 'all' must be a mapping of host names, found a list"),
            ("all:\n  hosts:\n    h1: [a]\n", "inv.yml:3:9: all.hosts.h1: host 'h1' takes a mapping of variables or nothing, found a list"),
            ("all:\n  vars: [a]\n", "inv.yml:2:9: all.vars: the variables of group 'all' must be a mapping"),
            ("all:\n  children:\n    - web\n", "inv.yml:3:5: all.children: the children of group 'all' must be a mapping"),
            ("web: [h1]\n", "inv.yml:1:6: web: group 'web' must be a mapping with hosts:, vars: or children: (or empty), found a list"),
            ("all:\n  hosts:\n    h1:\n    h2:\n    h1:\n", "inv.yml:3:5: duplicate key 'h1' in this mapping"),
            ("all:\n  web:\n    hosts: {h1: }\n", "inv.yml:2:3: all: unknown key 'web' in group 'all'; expected hosts, vars or children"),
            ("all:\n  hosts:\n    web[5:2]:\n", "inv.yml:3:5: all.hosts: 'web[5:2]': the range starts at 5, after its end 2"),
            ("all:\n  hosts:\n    'a b':\n", "inv.yml:3:5: all.hosts: invalid host name 'a b': contains whitespace"),
            ("all:\n  hosts:\n    h1: {ansible_port: 0}\n", "inv.yml:3:24: all.hosts.h1.ansible_port: ansible_port '0' is not a port number"),
            ("all:\n  children:\n    'bad group':\n", "inv.yml:3:5: all.children: 'bad group' is not a group name"),
            ("all:\n  hosts: {h1: }\n  bad: [unclosed\n", "inv.yml:4:1: invalid YAML"),
        ]
        for (text, prefix) in cases {
            let message = error("inv.yml", text)
            #expect(message.hasPrefix(prefix), "\(message)")
            #expect(message.contains("read as an Ansible YAML inventory"), "\(message)")
        }
    }

    @Test func oversizedFilesAreRefused() throws {
        let big = "h1\n# " + String(repeating: "x", count: 1 << 20) + "\n"
        #expect(error("inv", big).hasPrefix("inv: is 1048582 bytes; an inventory is at most 1048576 bytes"))
        let dir = try TempDir("inventory")
        defer { dir.remove() }
        try big.write(toFile: dir.path + "/big", atomically: true, encoding: .utf8)
        do {
            _ = try Inventory.load(files: [dir.path + "/big"])
            Issue.record("no error")
        } catch {
            #expect("\(error)".hasPrefix(dir.path + "/big: is 1048582 bytes"), "\(error)")
        }
    }

    // MARK: Patterns

    @Test func rangesExpand() throws {
        #expect(try HostPattern.expand("web[01:03].x") == ["web01.x", "web02.x", "web03.x"])
        #expect(try HostPattern.expand("web[8:10]") == ["web8", "web9", "web10"])
        #expect(try HostPattern.expand("n[:2]") == ["n0", "n1", "n2"])
        #expect(try HostPattern.expand("n[1:9:3]") == ["n1", "n4", "n7"])
        #expect(try HostPattern.expand("[a:c]-[1:2]") == ["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"])
        #expect(throws: HostPatternProblem.self) { try HostPattern.expand("n[1:9:0]") }
        #expect(throws: HostPatternProblem.self) { try HostPattern.expand("n[0:999999999]") }
    }

    @Test func globsMatch() {
        #expect(HostPattern.glob("web*", matches: "web01"))
        #expect(HostPattern.glob("*", matches: ""))
        #expect(HostPattern.glob("w?b*.x", matches: "web1.x"))
        #expect(!HostPattern.glob("w?b", matches: "wb"))
        #expect(HostPattern.glob("*a*b*", matches: "xxaxxbxx"))
        #expect(!HostPattern.glob("web", matches: "web01"))
        #expect(HostPattern.split(limit: "a:b,!c:&d") == ["a", "b", "!c", "&d"])
        #expect(HostPattern.split(limit: "fe80::1,h") == ["fe80::1", "h"])
    }
}
