import HASyncCommand

@main
struct Main {
    static func main() async {
        // `ha-sync prune-history ...` and `ha-sync versions ...` are subcommands; everything else
        // is a sync run, so `ha-sync --help` shows the sync options as the specification describes them.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "prune-history" {
            await PruneHistoryCommand.main(Array(arguments.dropFirst()))
        } else if arguments.first == "certificate" {
            CertificateCommand.main(Array(arguments.dropFirst()))
        } else if arguments.first == "serve" {
            await ServeCommand.main(Array(arguments.dropFirst()))
        } else if arguments.first == "versions" {
            await VersionsCommand.main(Array(arguments.dropFirst()))
        } else {
            await HASyncCommand.main(HASyncCommand.normalizingBooleanFlags(arguments))
        }
    }
}
