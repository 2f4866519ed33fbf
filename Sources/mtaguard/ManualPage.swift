import ArgumentParser
import Foundation

/// The man page's Korean. swift-argument-parser's generate-manual keeps only the ASCII
/// characters of every help text, so 양호, 취약 and … vanished from `mtaguard.1`. Asked for its
/// help dump with `MTAGUARD_MANUAL_ESCAPES=1` (as `make install` asks), mtaguard writes every
/// other character as roff's `\[uXXXX]`; the plugin escapes the backslash to `\e`, and
/// install.sh turns `\e[u` back into `\[u`, which man renders as the character.
enum ManualPage {
    static let variable = "MTAGUARD_MANUAL_ESCAPES"

    /// The help dump with roff escapes, when this run is the generator's dump request.
    static func escapedDump(
        arguments: [String] = CommandLine.arguments, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        guard environment[variable] == "1", arguments.dropFirst().contains("--experimental-dump-help") else { return nil }
        return escaped(MTAGuardCommand._dumpHelp())
    }

    /// Every non-ASCII scalar as `\\[uXXXX]`: a JSON-escaped backslash, then groff's glyph name.
    /// The dump's JSON has such scalars only inside its strings.
    static func escaped(_ json: String) -> String {
        var out = ""
        for scalar in json.unicodeScalars {
            if scalar.isASCII {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\\\[u" + String(format: "%04X", scalar.value) + "]"
            }
        }
        return out
    }
}

extension MTAGuardCommand {
    static func main() async {
        if let dump = ManualPage.escapedDump() {
            print(dump)
            return
        }
        await main(nil)
    }
}
