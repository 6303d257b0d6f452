import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RemoteProtocol
import Testing

@Suite("Byte pipe")
struct BytePipeTests {
    @Test func aBlockingWriterAndAnAsyncReaderPassEverythingInOrderWithinTheLimit() async throws {
        let pipe = BytePipe(limit: 64 * 1024)
        let chunks = 500
        Thread.detachNewThread {
            for index in 0..<chunks {
                try? pipe.put(ByteBuffer(bytes: [UInt8](repeating: UInt8(index % 256), count: 4096)))
            }
            pipe.finish()
        }
        var index = 0
        for try await chunk in pipe {
            #expect(chunk.readableBytes == 4096)
            #expect(chunk.getInteger(at: chunk.readerIndex, as: UInt8.self) == UInt8(index % 256))
            index += 1
        }
        #expect(index == chunks)
    }

    @Test func failingWakesABlockedWriter() async throws {
        let pipe = BytePipe(limit: 10)
        try pipe.put(ByteBuffer(bytes: [UInt8](repeating: 1, count: 10)))
        let failed = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do {
                    try pipe.put(ByteBuffer(bytes: [1]))
                    continuation.resume(returning: false)
                } catch {
                    continuation.resume(returning: true)
                }
            }
            Thread.detachNewThread {
                usleep(50_000)
                pipe.fail(CancellationError())
            }
        }
        #expect(failed)
    }

    @Test func eventLoopEndsHaveBackpressure() throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let pipe = BytePipe(limit: 8)
        let first = pipe.offer(ByteBuffer(bytes: [UInt8](repeating: 0, count: 8)), on: loop)
        let roomAgain = NIOLockedValueBox(false)
        first.whenSuccess { roomAgain.withLockedValue { $0 = true } }
        usleep(20_000)
        #expect(!roomAgain.withLockedValue { $0 })
        #expect(try pipe.next(on: loop).wait()?.readableBytes == 8)
        try first.wait()
        pipe.finish()
        #expect(try pipe.next(on: loop).wait() == nil)
    }
}
