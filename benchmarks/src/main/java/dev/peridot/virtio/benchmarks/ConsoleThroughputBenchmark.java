package dev.peridot.virtio.benchmarks;

import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.internal.ConsoleDevice;
import dev.peridot.virtio.console.internal.ConsoleOptions;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Console throughput (issue 4): guest to host and host to guest through the whole device — the
 * test kit's driver posts buffers and writes QueueNotify over the MMIO register window, the
 * device's worker copies between guest memory and port 0's bounded buffer, the in-memory sink
 * (the memory backend, drained by the benchmark thread as a host reader would) takes or
 * supplies the bytes, used buffers come back with interrupts — and, in the same run, a plain
 * {@code System.arraycopy} of the same buffer size as the yardstick.
 *
 * <p>One operation is one buffer of {@code size} bytes, so MiB/s = ops/s * size / 2^20.
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar ConsoleThroughput -f 1 -wi 3 -i 5</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class ConsoleThroughputBenchmark {

    /** Buffers per benchmark invocation (a batch the guest posts before it waits). */
    static final int BATCH = 32;
    private static final long RAM = 0x4000_0000L;
    private static final long RAM_SIZE = 64L << 20;

    @Param({"4096", "65536"})
    public int size;

    private MmioMachine machine;
    private ConsoleDevice device;
    private VirtioMmioDriver driver;
    private MmioDeviceAccess window;
    private DriverQueue rx;
    private DriverQueue tx;
    private long[] txBuffers;
    private long[] rxBuffers;
    private int nextRx;
    private byte[] sink;
    private byte[] source;
    private byte[] copyFrom;
    private byte[] copyTo;

    @Setup(Level.Trial)
    public void setup() throws GuestMemoryException {
        machine = new MmioMachine(MmioLayout.DEFAULT, RAM, RAM_SIZE);
        device = new ConsoleDevice(ConsoleOptions.defaults("bench")
                .withPort0(PortSpec.memory(0, "", true).withBuffers(1 << 20, 1 << 20)));
        window = machine.bind(device);
        GuestRamAllocator ram = new GuestRamAllocator(RAM, RAM_SIZE);
        driver = new VirtioMmioDriver(window, ram);
        machine.addSink(driver, window.slot(), null);
        List<DriverQueue> queues = driver.initialize(FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
                ReservedFeature.VIRTIO_F_EVENT_IDX, ConsoleFeature.VIRTIO_CONSOLE_F_SIZE), 2, 256);
        rx = queues.get(0);
        tx = queues.get(1);
        byte[] pattern = new byte[size];
        for (int i = 0; i < size; i++) {
            pattern[i] = (byte) (i * 31 + 7);
        }
        txBuffers = new long[BATCH];
        for (int i = 0; i < BATCH; i++) {
            txBuffers[i] = ram.allocate(size, 64);
            driver.memory().write(txBuffers[i], pattern, 0, size);
        }
        rxBuffers = new long[2 * BATCH];
        for (int i = 0; i < rxBuffers.length; i++) {
            rxBuffers[i] = ram.allocate(size, 64);
            rx.addSegments(DriverQueue.Segment.writable(rxBuffers[i], size));
        }
        rx.kick();
        sink = new byte[1 << 20];
        source = pattern;
        copyFrom = pattern.clone();
        copyTo = new byte[size];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        machine.close();
        device.close();
    }

    private void interrupts() {
        if (window.interruptAsserted()) {
            driver.handleInterrupt();
        }
    }

    /** Guest to host: post BATCH transmit buffers, kick; the host drains the memory sink until all came back. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long guestToHost() {
        for (int i = 0; i < BATCH; i++) {
            tx.addSegments(DriverQueue.Segment.readable(txBuffers[i], size));
        }
        tx.kick();
        int done = 0;
        long drained = 0;
        while (done < BATCH) {
            drained += device.read(0, sink, 0, sink.length);
            done += tx.harvest().size();
            interrupts();
        }
        long expected = (long) BATCH * size;
        while (drained < expected) {
            drained += device.read(0, sink, 0, sink.length);
        }
        return drained;
    }

    /** Host to guest: the host puts BATCH buffers' worth into the memory source; the guest harvests and re-posts receive buffers. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long hostToGuest() {
        long target = (long) BATCH * size;
        long sent = 0;
        long received = 0;
        int offset = 0;
        while (received < target) {
            if (sent < target) {
                int n = device.send(0, source, offset, size - offset);
                offset += n;
                sent += n;
                if (offset == size) {
                    offset = 0;
                }
            }
            List<DriverQueue.Completion> done = rx.harvest();
            if (!done.isEmpty()) {
                for (DriverQueue.Completion c : done) {
                    received += c.length();
                    rx.addSegments(DriverQueue.Segment.writable(rxBuffers[nextRx++ % rxBuffers.length], size));
                }
                rx.kick();
            }
            interrupts();
        }
        return received;
    }

    /** The yardstick: a plain copy of one buffer of the same size. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public byte plainCopy() {
        for (int i = 0; i < BATCH; i++) {
            System.arraycopy(copyFrom, 0, copyTo, 0, size);
        }
        return copyTo[size - 1];
    }
}
