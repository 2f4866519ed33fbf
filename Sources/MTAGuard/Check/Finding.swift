/// The verdict on one item for one host, in the assessment's own words.
public enum Status: String, Sendable, Codable, Equatable, Comparable {
    /// `exception` (예외): a 취약 finding an approved exception (`--exceptions`) covers; the
    /// finding's `exception` says who approved it, why and until when. `review` (수동 확인):
    /// mtaguard read what it could and a person must decide (the reason says what to look at);
    /// unlike `error`, nothing failed.
    case pass, fail, notApplicable = "not-applicable", error, exception, review

    /// 양호, 취약, 해당 없음, 오류, 예외, 수동 확인: the words the KISA and 전자금융기반시설 reports use.
    public var korean: String {
        switch self {
        case .pass: "양호"
        case .fail: "취약"
        case .notApplicable: "해당 없음"
        case .error: "오류"
        case .exception: "예외"
        case .review: "수동 확인"
        }
    }

    public var english: String {
        switch self {
        case .pass: "pass"
        case .fail: "fail"
        case .notApplicable: "n/a"
        case .error: "error"
        case .exception: "exception"
        case .review: "review"
        }
    }

    private var rank: Int {
        switch self {
        case .notApplicable: 0
        case .pass: 1
        case .exception: 2
        case .review: 3
        case .fail: 4
        case .error: 5
        }
    }

    public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }

    /// Whether plan and apply keep every remedy away from an item with this verdict: 오류
    /// (its file could not be read) and 수동 확인 (a person decides, not mtaguard).
    public var withholdsRemedy: Bool { self == .error || self == .review }
}

/// What a verdict rests on: the file and line read, and what was found there.
public struct Evidence: Sendable, Codable, Equatable {
    public var mta: String
    public var file: String
    public var line: Int?
    /// The line as written in the file, or a sentence when the setting is absent.
    public var text: String
    public var status: Status
    public var advisory: Bool
    public var note: String
    /// The setting read, in the MTA's own words (`MaxDaemonChildren`, `smtpd_banner`), where
    /// the evidence is about one.
    public var setting: String?

    /// A row that says only that a file the item reads is not on the host.
    public var isAbsentFile: Bool { status == .notApplicable && text == "(no such file)" }

    public init(mta: String, file: String, line: Int?, text: String, status: Status, advisory: Bool = false, note: String) {
        self.mta = mta
        self.file = file
        self.line = line
        self.text = text
        self.status = status
        self.advisory = advisory
        self.note = note
    }
}

public struct Finding: Sendable, Codable, Equatable {
    public var host: String
    public var item: String
    public var title: String
    public var status: Status
    public var evidence: [Evidence]
    /// The approved exception that covers this finding (its status is then `exception`).
    public var exception: ExceptionMark?

    /// The item's verdict: the worst verdict of the files the MTA reads; advisory files
    /// (such as sendmail.mc) are shown but do not decide it.
    static func verdict(_ evidence: [Evidence]) -> Status {
        let deciding = evidence.filter { !$0.advisory || $0.status == .error }
        return deciding.map(\.status).max() ?? .notApplicable
    }
}
