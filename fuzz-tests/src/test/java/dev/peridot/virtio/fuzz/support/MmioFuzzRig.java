package dev.peridot.virtio.fuzz.support;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.testkit.DriverException;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * An MMIO machine with a {@link FuzzDevice} in slot 0, reused across inputs (a fresh machine
 * costs a thread start and a RAM allocation). Between inputs the device is reset, which the
 * final oracle checks anyway, and guest RAM is zeroed, so the only state an input inherits is
 * what survives a reset by design (statistics, the configuration generation, the rate limit of
 * the guest-error log). If an input ends in a finding the rig is rebuilt before the next one.
 *
 * <p>It also holds the parts of the oracle about the device as a whole: {@link #observe()}
 * checks the Status and interrupt invariants after every step, {@link #settle()} bounds the
 * time the device's worker may stay busy, and {@link #checkNeverWedged} is the end-of-input
 * test that a reset and a fresh driver bring the device back.
 */
public final class MmioFuzzRig implements AutoCloseable {

    public static final long RAM_BASE = 0x4000_0000L;

    private static MmioFuzzRig shared;
    private static boolean sharedDirty;

    public final long ramSize;
    public final SegmentGuestMemory ram;
    private final MemorySegment ramSegment;
    public final MmioMachine machine;
    public final FuzzDevice device;
    public final MmioDeviceAccess window;
    private final LineWatch line = new LineWatch();
    private final StatusWatch status = new StatusWatch();
    /** ConfigGeneration last read: it never goes back, not even across a reset (HD-14). */
    private int lastGeneration = Integer.MIN_VALUE;

    /** The driver and allocator of the current input. */
    public GuestRamAllocator allocator;
    public VirtioMmioDriver driver;

    private MmioFuzzRig(long ramSize) {
        SevereLog.install();
        this.ramSize = ramSize;
        this.ram = SegmentGuestMemory.allocate(RAM_BASE, ramSize);
        this.ramSegment = ram.regions().get(0).segment();
        this.machine = new MmioMachine(MmioLayout.DEFAULT, ram);
        this.device = new FuzzDevice("fuzz0");
        this.window = machine.bind(device);
        machine.addSink(line, window.slot(), null);
        // Warm-up: one full bring-up and transfer, so class loading and the first JIT compilations
        // are not counted against the first input's time bound.
        beginInput();
        checkNeverWedged(FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1), 4);
        SevereLog.clear();
    }

    /**
     * The rig for the next input: the shared one, rebuilt if the previous input ended in a
     * finding (or its RAM size differs), prepared by {@link #beginInput()}.
     */
    public static synchronized MmioFuzzRig forInput(long ramSize) {
        if (shared == null || sharedDirty || shared.ramSize != ramSize) {
            if (shared != null) {
                shared.close();
            }
            shared = new MmioFuzzRig(ramSize);
        }
        sharedDirty = true; // Until the input ends cleanly.
        shared.beginInput();
        return shared;
    }

    /** Marks the shared rig as reusable: the input ended with the oracle satisfied. */
    public static synchronized void inputPassed() {
        sharedDirty = false;
    }

    /** Throws the shared rig away (before a replay that must start from scratch). */
    public static synchronized void discard() {
        if (shared != null) {
            shared.close();
            shared = null;
        }
    }

    /** Brings the rig to the state every input starts from: device reset and idle, RAM zero, a new driver. */
    public void beginInput() {
        device.clearInjectedFailure();
        if (device.status() != 0 || device.isResetUnderway()) {
            window.write(STATUS, 4, 0);
            awaitStatusZero("reset between inputs");
        }
        settle("reset between inputs");
        ramSegment.fill((byte) 0);
        allocator = new GuestRamAllocator(RAM_BASE, ramSize);
        driver = new VirtioMmioDriver(window, allocator);
        status.begin();
        lastGeneration = Integer.MIN_VALUE;
        line.check();
        SevereLog.clear();
    }

    // ---------------------------------------------------------------- oracle pieces

    /** Waits for the worker to finish what it was asked; a finding if it stays busy past the bound. */
    public void settle(String after) {
        if (!device.quiesce(Oracle.BOUND_NANOS)) {
            throw new Finding.TooSlow("the device's worker was still busy " + Oracle.BOUND_NANOS / 1_000_000
                    + " ms after " + after + " (spinning or blocked); status 0x"
                    + Integer.toHexString(device.status()) + ", " + device);
        }
    }

    /**
     * Checks the invariants a driver can observe at any quiet moment: Status (valid bit
     * combination, monotonic between resets, DEVICE_NEEDS_RESET only with a device-side reason),
     * InterruptStatus (only the two defined bits; the line follows it), identification registers.
     *
     * @return the Status value read
     */
    public int observe() {
        int s = status.observe(() -> window.read(STATUS, 4), device);
        int isr = window.read(INTERRUPT_STATUS, 4);
        Oracle.check((isr & ~3) == 0, "InterruptStatus has undefined bits: 0x" + Integer.toHexString(isr));
        Oracle.check((isr != 0) == window.interruptAsserted(), "interrupt line " + window.interruptAsserted()
                + " but InterruptStatus 0x" + Integer.toHexString(isr));
        Oracle.check(window.read(MAGIC_VALUE, 4) == MAGIC && window.read(VERSION, 4) == VERSION_2
                && window.read(DEVICE_ID, 4) == FuzzDevice.DEVICE_ID, "identification registers changed");
        int generation = window.read(CONFIG_GENERATION, 4);
        Oracle.check(lastGeneration == Integer.MIN_VALUE || generation - lastGeneration >= 0,
                "ConfigGeneration went back from " + lastGeneration + " to " + generation);
        lastGeneration = generation;
        line.check();
        return s;
    }

    /** Bounded memory: nothing the device holds may exceed what the driver made available. */
    public void checkBounded() {
        for (int q = 0; q < device.queueCount(); q++) {
            var info = device.queueInfo(q);
            Oracle.check(info.inFlight() >= 0 && (info.inFlight() <= Math.max(info.size(), 0) || !info.ready()),
                    "queue " + q + " has " + info.inFlight() + " chains in flight, size " + info.size());
        }
        Oracle.check(device.heldCount() <= FuzzDevice.MAX_SIZES[FuzzDevice.HOLD],
                "the hold queue keeps " + device.heldCount() + " chains");
    }

    /** Writes Status=0 and waits (bounded) until it reads 0. */
    public void resetAndAwait(String why) {
        Oracle.run("reset (" + why + ")", () -> {
            window.write(STATUS, 4, 0);
            awaitStatusZero(why);
        });
        settle("reset (" + why + ")");
    }

    private void awaitStatusZero(String why) {
        long deadline = System.nanoTime() + Oracle.BOUND_NANOS;
        while (window.read(STATUS, 4) != 0) {
            if (System.nanoTime() > deadline) {
                throw new Finding.TooSlow("Status did not read 0 within the bound after a reset (" + why + "): 0x"
                        + Integer.toHexString(window.read(STATUS, 4)) + ", " + device);
            }
            LockSupport.parkNanos(10_000);
        }
    }

    /**
     * The end of every input: after a reset, a fresh test-kit driver brings the device up with
     * {@code features} and one buffer goes through the loopback queue with the right content.
     * Then the device is reset again and must be idle, and after the reset every register a
     * reset clears reads 0 (MMIO-47).
     */
    public void checkNeverWedged(FeatureSet features, int queueSize) {
        device.clearInjectedFailure(); // A device-code failure the input injected but never triggered is void now.
        resetAndAwait("final");
        observe();
        Oracle.check(window.read(INTERRUPT_STATUS, 4) == 0, "InterruptStatus not 0 after a reset");
        for (int q = 0; q < device.queueCount(); q++) {
            window.write(QUEUE_SEL, 4, q);
            Oracle.check(window.read(QUEUE_READY, 4) == 0, "queue " + q + " still ready after a reset");
            Oracle.check(window.read(QUEUE_RESET, 4) == 0, "queue " + q + " still resetting after a reset");
        }
        window.write(QUEUE_SEL, 4, 0);
        // The device no longer touches guest RAM: start over with zeroed RAM and a new driver.
        ramSegment.fill((byte) 0);
        allocator = new GuestRamAllocator(RAM_BASE, ramSize);
        driver = new VirtioMmioDriver(window, allocator);
        VirtioMmioDriver d = driver;
        List<DriverQueue> queues = Oracle.call("fresh driver initialize", () -> {
            try {
                return d.initialize(features, FuzzDevice.MAX_SIZES.length, queueSize);
            } catch (DriverException e) {
                throw new Finding("a fresh driver cannot bring the device up after a reset: " + e.getMessage(), e);
            }
        });
        status.begin();
        settle("DRIVER_OK of the fresh driver");
        int s = observe();
        Oracle.check(s == (DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK
                | DeviceStatus.DRIVER_OK), "fresh driver: Status 0x" + Integer.toHexString(s));
        byte[] payload = {1, 2, 3, 4, 5, 6, 7};
        DriverQueue q0 = queues.get(FuzzDevice.LOOPBACK);
        Oracle.run("fresh driver: add and kick", () -> {
            q0.add(List.of(payload), 16);
            q0.kick();
        });
        settle("fresh driver kick");
        List<DriverQueue.Completion> done = Oracle.call("fresh driver: harvest", q0::harvest);
        Oracle.check(done.size() == 1, "fresh driver: " + done.size() + " buffers came back instead of 1; " + device
                + ", queue " + device.queueInfo(0));
        int sum = 0;
        for (byte b : payload) {
            sum += b;
        }
        byte[] expected = new byte[16];
        for (int i = 0; i < 16; i++) {
            expected[i] = FuzzDevice.fill(sum, i);
        }
        Oracle.check(done.get(0).length() == 16 && Arrays.equals(done.get(0).data(), expected),
                "fresh driver: wrong data came back");
        Oracle.check((device.status() & DeviceStatus.DEVICE_NEEDS_RESET) == 0, "fresh driver: DEVICE_NEEDS_RESET");
        resetAndAwait("after the fresh driver");
        SevereLog.checkNone("end of input");
    }

    /** Reads guest RAM (for models and checks). */
    public byte[] snapshot() {
        return ramSegment.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    /** Guest RAM as a segment (offset 0 is {@link #RAM_BASE}). */
    public MemorySegment ramSegment() {
        return ramSegment;
    }

    public void write(long gpa, byte[] data) {
        try {
            ram.write(gpa, data, 0, data.length);
        } catch (GuestMemoryException e) {
            throw new IllegalArgumentException(e);
        }
    }

    @Override
    public void close() {
        machine.close();
        ram.close();
    }

}
