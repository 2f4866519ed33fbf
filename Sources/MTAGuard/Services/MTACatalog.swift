/// The one place that names the MTAs mtaguard knows. (Their units, paths and packages per OS
/// family still live in the service catalog and the remote scripts; they move here next.)
enum MTACatalog {
    static let names = ["postfix", "sendmail", "exim"]
}
