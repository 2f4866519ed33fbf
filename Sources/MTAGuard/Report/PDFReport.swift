import Foundation

/// The HTML report printed to PDF by headless Chromium (`--print-to-pdf`), from a private
/// temporary folder (the page, the browser's profile and the PDF), with the browser's own
/// header and footer off: the report's page header (`HTMLReport`) repeats on every page.
public enum PDFReport {
    /// The browsers tried, in order: MTAGUARD_CHROMIUM if set, then the usual names on PATH.
    public static func browser(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let given = environment["MTAGUARD_CHROMIUM"], !given.isEmpty { return given }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + ["/usr/bin", "/snap/bin"]
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
        }
        return nil
    }

    /// Seconds the browser has to print the page.
    public static let timeout = 120

    public static func render(html: String) throws -> Data {
        guard let browser = browser() else {
            throw MTAGuardError(.invalidInput, "no Chromium to print the PDF report with",
                                hint: "install chromium (apt-get install chromium) or set MTAGUARD_CHROMIUM")
        }
        var template = Array((NSTemporaryDirectory() + "mtaguard-pdf-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw MTAGuardError("cannot make a temporary folder for the PDF: \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let page = folder + "/report.html", pdf = folder + "/report.pdf"
        try Data(html.utf8).write(to: URL(fileURLWithPath: page))
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = folder
        let r = try ProcessRunner.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--disable-extensions", "--user-data-dir=\(folder)/profile", "--no-pdf-header-footer",
             "--print-to-pdf-no-header", "--print-to-pdf=\(pdf)", URL(fileURLWithPath: page).absoluteString],
            environment: environment, timeout: timeout)
        guard let data = FileManager.default.contents(atPath: pdf), data.starts(with: Data("%PDF".utf8)) else {
            let why = r.status == 124 ? "timed out after \(timeout) s" : "exit status \(r.status)"
            throw MTAGuardError("\(browser) printed no PDF (\(why)): \(r.stderr.suffix(400))")
        }
        return data
    }
}
