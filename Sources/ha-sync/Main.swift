import HASyncCommand

@main
struct Main {
    static func main() async {
        await HASyncCommand.main()
    }
}
