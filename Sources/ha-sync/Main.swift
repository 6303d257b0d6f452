import CSyncShims
import HASyncCommand

@main
struct Main {
    static func main() async {
        // glibc gives threads that allocate at the same time heaps (arenas) of their own, up
        // to eight per core, and memory freed in one is not returned while anything near it
        // lives. A run's many I/O threads so kept a sixth of the peak RSS in free memory
        // (20,000 new files sent to a peer, median of six runs: 76 MiB, 64 MiB with two arenas,
        // in the same time). An explicit MALLOC_ARENA_MAX in the environment still decides.
        hasync_limit_malloc_arenas(2)
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
