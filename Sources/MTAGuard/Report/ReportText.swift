import Foundation

/// The language of the CSV and HTML reports.
public enum ReportLanguage: String, Sendable, CaseIterable {
    case ko, en

    /// `ko` when the locale that decides messages is Korean: the first non-empty of LC_ALL,
    /// LC_MESSAGES, LANG (the POSIX order) starts with "ko" (ko_KR.UTF-8, ko, …); else `en`.
    public static func fromEnvironment() -> ReportLanguage {
        fromEnvironment(ProcessInfo.processInfo.environment)
    }

    public static func fromEnvironment(_ environment: [String: String]) -> ReportLanguage {
        for name in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            guard let value = environment[name], !value.isEmpty else { continue }
            return value.lowercased().hasPrefix("ko") ? .ko : .en
        }
        return .en
    }

    /// The words of the reports in this language.
    public var text: ReportText { self == .ko ? .korean : .english }
}

/// Every word the CSV and HTML reports print, in one language.
public struct ReportText: Sendable {
    public var title: String
    public var generated: String
    public var host: String
    public var hosts: String
    public var item: String
    public var itemTitle: String
    public var status: String
    public var mta: String
    public var file: String
    public var line: String
    public var evidence: String
    public var note: String
    public var action: String
    public var advisory: String
    public var summaryByItem: String
    public var summaryByHost: String
    public var details: String
    public var overall: String
    public var hostError: String
    public var noAction: String
    public var checkByHand: String
    /// A 수동 확인 finding's action: what the person is to look at ("확인 대상").
    public var lookAt: String
    public var willChange: String
    public var thenRun: String
    public var noFindings: String
    public var whatChanged: String
    public var noRuns: String
    public var run: String
    public var command: String
    public var started: String
    public var finished: String
    public var outcome: String
    public var files: String
    public var actions: String
    public var rollbackOf: String
    public var thisFile: String
    public var emptyText: String
    /// An approved exception: "예외 승인", who approved it, until when, and what apply does.
    public var exceptionApproved: String
    public var approvedBy: String
    public var until: String
    public var leftAsIs: String
    /// The workbook's sheets: 요약, 점검 결과, 증적, 조치 이력.
    public var sheetSummary: String
    public var sheetResults: String
    public var sheetEvidence: String
    public var sheetChanges: String
    /// The assessment's column headings: ID, 구분, 평가항목, 상세설명, 중요도, 평가대상.
    public var itemID: String
    public var category: String
    public var assessmentItem: String
    public var itemDescription: String
    public var severity: String
    public var appliesTo: String
    /// 구분 of an item about more than one MTA (or none).
    public var mailService: String
    public var exception: String
    public var user: String
    public var rolledBack: String
    public var rolledBackBy: String
    public var chartTitle: String
    /// The PDF's table of contents and header.
    public var contents: String
    public var organisation: String
    public var legend: String
    private var grades: [Playbook.Severity: String]

    /// 상/중/하 (High/Medium/Low).
    public func grade(_ severity: Playbook.Severity) -> String { grades[severity] ?? severity.rawValue }

    private var statusWords: [Status: String]

    public func word(_ status: Status) -> String { statusWords[status] ?? status.english }

    /// 설정 항목: the setting an evidence row is about, in the MTA's own words.
    public var setting: String
    /// The folded rows of files that are not on the host (`EvidenceFold`): "sendmail, exim: not
    /// configured here", "no FILE, FILE (--verbose shows each)"; the text report's words in English.
    public var notConfigured: String
    public var noSuchFiles: String
    public var verboseShowsEach: String

    public static let korean = ReportText(
        title: "메일 서버 보안 점검 보고서 (mtaguard)",
        generated: "생성 시각",
        host: "호스트",
        hosts: "호스트",
        item: "항목",
        itemTitle: "항목명",
        status: "결과",
        mta: "MTA",
        file: "파일",
        line: "줄",
        evidence: "근거",
        note: "비고",
        action: "조치",
        advisory: "참고용",
        summaryByItem: "항목별 요약",
        summaryByHost: "호스트별 요약",
        details: "세부 점검 결과",
        overall: "종합",
        hostError: "호스트 오류",
        noAction: "조치 불필요",
        checkByHand: "수동 확인 필요",
        lookAt: "확인 대상",
        willChange: "수정 예정",
        thenRun: "이후 실행",
        noFindings: "점검 결과 없음",
        whatChanged: "변경 내역",
        noRuns: "이 보고서에 포함된 실행 기록이 없습니다.",
        run: "실행 ID",
        command: "명령",
        started: "시작",
        finished: "종료",
        outcome: "결과",
        files: "파일",
        actions: "서비스 조치",
        rollbackOf: "되돌린 실행",
        thisFile: "이 파일",
        emptyText: "(내용 없음)",
        exceptionApproved: "예외 승인",
        approvedBy: "승인자",
        until: "만료일",
        leftAsIs: "예외 항목: 조치하지 않음",
        sheetSummary: "요약", sheetResults: "점검 결과", sheetEvidence: "증적", sheetChanges: "조치 이력",
        itemID: "ID", category: "구분", assessmentItem: "평가항목", itemDescription: "상세설명", severity: "중요도",
        appliesTo: "평가대상", mailService: "메일 서비스", exception: "예외", user: "실행자", rolledBack: "되돌림",
        rolledBackBy: "되돌려짐", chartTitle: "항목별 점검 결과", contents: "목차", organisation: "기관",
        legend: "범례",
        grades: [.high: "상", .medium: "중", .low: "하"],
        statusWords: [.pass: Status.pass.korean, .fail: Status.fail.korean,
                      .notApplicable: Status.notApplicable.korean, .error: Status.error.korean,
                      .exception: Status.exception.korean, .review: Status.review.korean],
        setting: "설정 항목", notConfigured: "이 호스트에 구성되어 있지 않음", noSuchFiles: "파일 없음:",
        verboseShowsEach: "--verbose로 각 파일 표시")

    public static let english = ReportText(
        title: "Mail server hardening report (mtaguard)",
        generated: "Generated",
        host: "Host",
        hosts: "Hosts",
        item: "Item",
        itemTitle: "Title",
        status: "Status",
        mta: "MTA",
        file: "File",
        line: "Line",
        evidence: "Evidence",
        note: "Note",
        action: "Action",
        advisory: "advisory",
        summaryByItem: "Summary by item",
        summaryByHost: "Summary by host",
        details: "Detailed results",
        overall: "Overall",
        hostError: "Host error",
        noAction: "nothing to do",
        checkByHand: "check by hand",
        lookAt: "look at",
        willChange: "will change",
        thenRun: "then run",
        noFindings: "no findings",
        whatChanged: "What changed",
        noRuns: "No runs are included in this report.",
        run: "Run ID",
        command: "Command",
        started: "Started",
        finished: "Finished",
        outcome: "Outcome",
        files: "Files",
        actions: "Service actions",
        rollbackOf: "rollback of",
        thisFile: "this file",
        emptyText: "(empty)",
        exceptionApproved: "Exception approved",
        approvedBy: "approved by",
        until: "until",
        leftAsIs: "exception: left as is",
        sheetSummary: "Summary", sheetResults: "Results", sheetEvidence: "Evidence", sheetChanges: "Changes",
        itemID: "ID", category: "Category", assessmentItem: "Item", itemDescription: "Description", severity: "Severity",
        appliesTo: "Applies to", mailService: "Mail service", exception: "Exception", user: "User", rolledBack: "Rolled back",
        rolledBackBy: "rolled back by", chartTitle: "Results by item", contents: "Contents", organisation: "Organisation",
        legend: "Legend",
        grades: [.high: "High", .medium: "Medium", .low: "Low"],
        statusWords: [.pass: "Pass", .fail: "Fail", .notApplicable: "N/A", .error: "Error", .exception: "Exception", .review: "Review"],
        setting: "Setting", notConfigured: "not configured here", noSuchFiles: "no", verboseShowsEach: "--verbose shows each")

    /// The order the reports count statuses in, as an auditor reads them: 양호, 취약, 수동 확인
    /// (what a person must still decide), then 해당 없음, 오류, 예외.
    public static let statusOrder: [Status] = [.pass, .fail, .review, .notApplicable, .error, .exception]

    /// "예외 승인: REASON (승인자 NAME, 만료일 2026-12-31; exceptions.yaml:4)".
    public func describe(_ mark: ExceptionMark) -> String {
        "\(exceptionApproved): \(mark.reason) (\(approvedBy) \(mark.approvedBy), \(until) \(mark.until); \(mark.source))"
    }
}
