package dev.peridot.virtio.benchmarks;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;
import dev.peridot.virtio.transport.mmio.MmioRegisters;
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
 * The MMIO transport (issue 3): register access dispatch through the 'Device Config Space', and
 * the round trip of one buffer through the test kit — the driver adds it and writes
 * QueueNotify, the device's worker takes and uses it, the interrupt reaches the driver through
 * the whiteboard sink, the driver reads InterruptStatus, acknowledges and harvests.
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar MmioBenchmark -prof gc</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class MmioBenchmark {

    private static final long RAM = 0x4000_0000L;

    private MmioMachine machine;
    private MmioDeviceAccess window;
    private VirtioMmioDriver driver;
    private DriverQueue queue;
    private long buffer;
    private int sel;

    @Setup(Level.Trial)
    public void setup() {
        machine = new MmioMachine(MmioLayout.DEFAULT, RAM, 16 << 20);
        window = machine.bind(new SinkDevice("bench"));
        GuestRamAllocator ram = new GuestRamAllocator(RAM, 16 << 20);
        driver = new VirtioMmioDriver(window, ram);
        machine.addSink(driver, window.slot(), null);
        queue = driver.initialize(FeatureSet.of(32), 1, 256).get(0);
        buffer = ram.allocate(64, 8);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        machine.close();
    }

    @Benchmark
    public int readStatus() {
        return window.read(MmioRegisters.STATUS, 4);
    }

    @Benchmark
    public int readQueueNumMax() {
        return window.read(MmioRegisters.QUEUE_NUM_MAX, 4);
    }

    @Benchmark
    public int readConfig16() {
        return window.read(MmioRegisters.CONFIG + 2, 2);
    }

    @Benchmark
    public void writeQueueSel() {
        window.write(MmioRegisters.QUEUE_SEL, 4, (sel++) & 1);
    }

    @Benchmark
    public void writeInterruptAckNothingPending() {
        window.write(MmioRegisters.INTERRUPT_ACK, 4, 1);
    }

    @Benchmark
    public int busReadByAddress() {
        return machine.read(MmioLayout.DEFAULT.base(0) + MmioRegisters.STATUS, 4);
    }

    /** kick → device handler (worker thread) → used → interrupt → ACK → harvest. */
    @Benchmark
    public int kickToInterruptRoundTrip() {
        queue.addSegments(DriverQueue.Segment.readable(buffer, 64));
        queue.notifyDevice();
        while (true) {
            int n = queue.harvest().size();
            if (n > 0) {
                return n;
            }
            if (driver.awaitInterrupt(1000)) {
                driver.handleInterrupt();
            }
        }
    }
}
