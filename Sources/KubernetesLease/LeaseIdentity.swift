/// The holder identity a run writes into its Lease.
///
/// Unique per run, as client-go's leader election makes it (host name plus a UUID): two runs
/// with the same pod or host name and direction (a run outside a pod, a reused host name, a
/// container restarted in its pod) must never take each other's Lease for their own.
public enum LeaseIdentity {
    /// `<holder>/<direction>/<8 random hex digits>`: readable first, unique last.
    public static func make<Generator: RandomNumberGenerator>(holder: String, direction: String, using generator: inout Generator) -> String {
        let suffix = String(UInt32.random(in: .min ... .max, using: &generator), radix: 16)
        return "\(holder)/\(direction)/\(String(repeating: "0", count: 8 - suffix.count))\(suffix)"
    }

    /// ``make(holder:direction:using:)`` with the system's random numbers.
    public static func make(holder: String, direction: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return make(holder: holder, direction: direction, using: &generator)
    }
}
