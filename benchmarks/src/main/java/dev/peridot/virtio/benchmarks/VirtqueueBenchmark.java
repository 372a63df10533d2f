package dev.peridot.virtio.benchmarks;

import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.SplitRing;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * 'Virtqueue Access' round trips (issue 2): each operation is the driver making chains
 * available (one or two 16-bit stores per chain, included in the figure) and the device
 * popping, reading and pushing them. No worker thread is involved: this is the cost of the
 * queue code itself.
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar VirtqueueBenchmark -prof gc</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class VirtqueueBenchmark {

    /** (a) A 1-descriptor chain: publish, pop, read 64 bytes, push used. */
    @State(Scope.Thread)
    public static class OneDescriptor {
        RingFixture ring;
        final byte[] buffer = new byte[64];

        @Setup(Level.Trial)
        public void setup() throws GuestMemoryException {
            ring = new RingFixture(256, false, false);
            ring.descriptor(0, ring.data(0), 64, 0, 0);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            ring.close();
        }
    }

    @Benchmark
    public int oneDescriptorRoundTrip(OneDescriptor s) throws GuestMemoryException {
        s.ring.publish(0);
        DescriptorChain chain = s.ring.queue.pop();
        int n = chain.read(0, s.buffer, 0, 64);
        s.ring.queue.push(chain, 0);
        return n;
    }

    /** (b) A 128-descriptor chain of 16-byte buffers, direct or through an indirect table. */
    @State(Scope.Thread)
    public static class LongChain {
        RingFixture direct;
        RingFixture indirect;
        final byte[] buffer = new byte[128 * 16];

        @Setup(Level.Trial)
        public void setup() throws GuestMemoryException {
            direct = new RingFixture(256, false, false);
            for (int i = 0; i < 128; i++) {
                direct.descriptor(i, direct.data(16L * i), 16, i < 127 ? SplitRing.DESC_F_NEXT : 0, i + 1);
            }
            indirect = new RingFixture(256, false, true);
            long table = indirect.data(64 * 1024);
            for (int i = 0; i < 128; i++) {
                indirect.tableEntry(table, i, indirect.data(16L * i), 16, i < 127 ? SplitRing.DESC_F_NEXT : 0, i + 1);
            }
            indirect.descriptor(0, table, 128 * 16, SplitRing.DESC_F_INDIRECT, 0);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            direct.close();
            indirect.close();
        }
    }

    @Benchmark
    public int chain128Direct(LongChain s) throws GuestMemoryException {
        return roundTrip(s.direct, s.buffer);
    }

    @Benchmark
    public int chain128Indirect(LongChain s) throws GuestMemoryException {
        return roundTrip(s.indirect, s.buffer);
    }

    private static int roundTrip(RingFixture ring, byte[] buffer) throws GuestMemoryException {
        ring.publish(0);
        DescriptorChain chain = ring.queue.pop();
        int n = chain.read(0, buffer, 0, buffer.length);
        ring.queue.push(chain, 0);
        return n;
    }

    /** (c) 128 single-descriptor chains per operation, EVENT_IDX asking for one notification per batch. */
    @State(Scope.Thread)
    public static class Batch {
        RingFixture ring;
        final byte[] buffer = new byte[64];

        @Setup(Level.Trial)
        public void setup() throws GuestMemoryException {
            ring = new RingFixture(256, true, false);
            for (int i = 0; i < 128; i++) {
                ring.descriptor(i, ring.data(64L * i), 64, 0, 0);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            ring.close();
        }
    }

    @Benchmark
    public long batch128EventIdx(Batch s) throws GuestMemoryException {
        RingFixture ring = s.ring;
        int start = ring.availIdx();
        for (int i = 0; i < 128; i++) {
            ring.publish(i);
        }
        ring.usedEvent((start + 127) & 0xFFFF);
        DescriptorChain chain;
        int n = 0;
        while ((chain = ring.queue.pop()) != null) {
            n += chain.read(0, s.buffer, 0, 64);
            ring.queue.addUsed(chain, 0);
        }
        ring.queue.flushUsed();
        return n + ring.notifications;
    }
}
