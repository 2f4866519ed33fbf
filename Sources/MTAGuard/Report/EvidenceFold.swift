/// The evidence rows of one finding as the text, HTML and PDF reports show them: the rows
/// that say only that a file is not on the host (an MTA that is not configured there) fold
/// into one line per item ("sendmail, exim: not configured here", then the files), unless the
/// report is `verbose`. JSON, CSV and the workbook keep every row.
public struct EvidenceFold: Sendable, Equatable {
    /// The MTAs of the folded rows, in the order they first appear; empty when nothing folds.
    public var mtas: [String] = []
    /// The files of the folded rows, in the order they first appear.
    public var files: [String] = []
    /// The rows shown one by one, in their order.
    public var shown: [Evidence]

    /// One absent file stays a row of its own: a fold of one would say no less.
    public init(_ evidence: [Evidence], verbose: Bool) {
        let absent = verbose ? [] : evidence.filter(\.isAbsentFile)
        guard absent.count > 1 else {
            shown = evidence
            return
        }
        for e in absent {
            if !mtas.contains(e.mta) { mtas.append(e.mta) }
            if !files.contains(e.file) { files.append(e.file) }
        }
        shown = evidence.filter { !$0.isAbsentFile }
    }

    public var isFolded: Bool { !mtas.isEmpty }
}
