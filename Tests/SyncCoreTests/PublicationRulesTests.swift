import SyncCore
import Testing

@Suite("Publication rules")
struct PublicationRulesTests {
    @Test func anAnnouncementWaitsForTheFileNamedAfterIt() throws {
        let rules = PublicationRules(after: [try PublicationRules.parseAfter("*.json=${stem}.squashfs")])
        #expect(
            rules.stage(of: RelativePath("boot/ubuntu-24.04.json"))
                == .after(dependency: RelativePath("boot/ubuntu-24.04.squashfs"), rule: "*.json=${stem}.squashfs"))
        #expect(rules.stage(of: RelativePath("top.json")) == .after(dependency: RelativePath("top.squashfs"), rule: "*.json=${stem}.squashfs"))
        #expect(rules.stage(of: RelativePath("boot/ubuntu.squashfs")) == .normal)
        #expect(rules.announces(RelativePath("a.json")))
        #expect(!rules.announces(RelativePath("a.squashfs")))
    }

    @Test func dependenciesMayNameTheWholeNameOrASubfolder() throws {
        let rules = PublicationRules(after: [
            try PublicationRules.parseAfter("*.sig=${stem}"), try PublicationRules.parseAfter("manifest=data/${name}.bin"),
        ])
        #expect(rules.stage(of: RelativePath("x/disk.img.sig")) == .after(dependency: RelativePath("x/disk.img"), rule: "*.sig=${stem}"))
        #expect(rules.stage(of: RelativePath("manifest")) == .after(dependency: RelativePath("data/manifest.bin"), rule: "manifest=data/${name}.bin"))
    }

    @Test func aFileNeverWaitsForItselfAndDotfilesKeepTheirName() throws {
        // `${stem}` of a name without an extension is the name: `README=${stem}` would wait for itself.
        let rules = PublicationRules(after: [try PublicationRules.parseAfter("*=${stem}")])
        #expect(rules.stage(of: RelativePath("README")) == .normal)
        #expect(rules.stage(of: RelativePath(".hidden")) == .normal)
        #expect(rules.stage(of: RelativePath("a.b")) == .after(dependency: RelativePath("a"), rule: "*=${stem}"))
    }

    @Test func lastRulesMatchLikeFilters() throws {
        let rules = PublicationRules(last: [try PublicationRules.parseLast("*.done"), try PublicationRules.parseLast("/index.html")])
        #expect(rules.stage(of: RelativePath("a/b/batch.done")) == .last)
        #expect(rules.stage(of: RelativePath("index.html")) == .last)
        #expect(rules.stage(of: RelativePath("sub/index.html")) == .normal, "anchored to the root")
    }

    @Test(arguments: ["*.json", "=x", "*.json=", "*.json=/abs", "*.json=../up", "*.json=a//b", "*.json=./x", "*=${name}"])
    func malformedRulesAreRefusedWithTheFlagNamed(text: String) {
        #expect {
            _ = try PublicationRules.parseAfter(text)
        } throws: { error in
            (error as? FilterError)?.message.contains("--publish-after") == true
        }
    }
}
