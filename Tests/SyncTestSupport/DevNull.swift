public import Foundation

/// A fresh handle on /dev/null for one child process.
///
/// `FileHandle.nullDevice` is one shared handle; handing it to several `Process`es let a later
/// child start with a closed descriptor (a dashboard test's server died on its first log line),
/// and a descriptor closed under a process can end up closing whatever reused its number.
public enum DevNull {
    public static func reading() -> FileHandle {
        FileHandle(forReadingAtPath: "/dev/null")!
    }

    public static func writing() -> FileHandle {
        FileHandle(forWritingAtPath: "/dev/null")!
    }
}
