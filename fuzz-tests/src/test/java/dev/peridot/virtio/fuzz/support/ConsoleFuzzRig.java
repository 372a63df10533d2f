package dev.peridot.virtio.fuzz.support;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import dev.peridot.virtio.console.internal.ConsoleDevice;
import dev.peridot.virtio.console.internal.ConsoleOptions;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * An MMIO machine for the console target. The machine and its RAM are reused; the console
 * device is new for every input (a console keeps host data across a reset by design — input not
 * yet delivered waits for the next driver — so a reused device would carry one input's bytes
 * into the next and make findings irreproducible).
 */
public final class ConsoleFuzzRig implements AutoCloseable {

    public static final long RAM_BASE = 0x4000_0000L;
    public static final long RAM_SIZE = 2L << 20;

    private static ConsoleFuzzRig shared;
    private static boolean sharedDirty;

    private final SegmentGuestMemory ram = SegmentGuestMemory.allocate(RAM_BASE, RAM_SIZE);
    private final MemorySegment ramSegment = ram.regions().get(0).segment();
    public final MmioMachine machine = new MmioMachine(MmioLayout.DEFAULT, ram);
    private final LineWatch line = new LineWatch();
    private final StatusWatch status = new StatusWatch();
    /** ConfigGeneration last read: it never goes back, not even across a reset (HD-14). */
    private int lastGeneration = Integer.MIN_VALUE;

    public ConsoleDevice device;
    public MmioDeviceAccess window;
    public GuestRamAllocator allocator;
    public VirtioMmioDriver driver;
    private WorkerBarrier barrier;

    private ConsoleFuzzRig() {
        SevereLog.install();
        machine.addSink(line, 0, null);
    }

    /** The rig with a new console built from {@code options} bound to slot 0. */
    public static synchronized ConsoleFuzzRig forInput(ConsoleOptions options) {
        if (shared == null || sharedDirty) {
            if (shared != null) {
                shared.close();
            }
            shared = new ConsoleFuzzRig();
        }
        sharedDirty = true;
        shared.begin(options);
        return shared;
    }

    public static synchronized void inputPassed() {
        if (shared != null) {
            shared.end();
        }
        sharedDirty = false;
    }

    public static synchronized void discard() {
        if (shared != null) {
            shared.close();
            shared = null;
        }
    }

    private void begin(ConsoleOptions options) {
        ramSegment.fill((byte) 0);
        device = new ConsoleDevice(options);
        window = machine.bind(device);
        barrier = WorkerBarrier.of(device);
        allocator = new GuestRamAllocator(RAM_BASE, RAM_SIZE);
        driver = new VirtioMmioDriver(window, allocator);
        status.begin();
        lastGeneration = Integer.MIN_VALUE;
        SevereLog.clear();
    }

    private void end() {
        if (device != null) {
            machine.unbind(device.deviceName());
            device.close();
            device = null;
        }
    }

    /** Waits until the worker is idle; a finding if it stays busy past the bound. */
    public void settle(String after) {
        if (!barrier.quiesce(Oracle.BOUND_NANOS)) {
            throw new Finding.TooSlow("the console's worker was still busy " + Oracle.BOUND_NANOS / 1_000_000
                    + " ms after " + after + "; " + device);
        }
    }

    /** Status and interrupt invariants (see {@link StatusWatch}); returns Status. */
    public int observe() {
        int s = status.observe(() -> window.read(STATUS, 4), device);
        int isr = window.read(INTERRUPT_STATUS, 4);
        Oracle.check((isr & ~3) == 0, "InterruptStatus has undefined bits: 0x" + Integer.toHexString(isr));
        Oracle.check((isr != 0) == window.interruptAsserted(), "interrupt line does not follow InterruptStatus");
        int generation = window.read(CONFIG_GENERATION, 4);
        Oracle.check(lastGeneration == Integer.MIN_VALUE || generation - lastGeneration >= 0,
                "ConfigGeneration went back from " + lastGeneration + " to " + generation);
        lastGeneration = generation;
        line.check();
        return s;
    }

    /** Writes Status=0 and waits (bounded) until it reads 0. */
    public void resetAndAwait(String why) {
        Oracle.run("reset (" + why + ")", () -> {
            window.write(STATUS, 4, 0);
            long deadline = System.nanoTime() + Oracle.BOUND_NANOS;
            while (window.read(STATUS, 4) != 0) {
                if (System.nanoTime() > deadline) {
                    throw new Finding.TooSlow("Status did not read 0 within the bound after a reset (" + why + ")");
                }
                LockSupport.parkNanos(10_000);
            }
        });
        settle("reset (" + why + ")");
    }

    /** A new driver on zeroed RAM (only once the device let go of the old rings: after a completed reset). */
    public void freshDriver() {
        ramSegment.fill((byte) 0);
        allocator = new GuestRamAllocator(RAM_BASE, RAM_SIZE);
        driver = new VirtioMmioDriver(window, allocator);
        status.begin();
    }

    public SegmentGuestMemory ram() {
        return ram;
    }

    @Override
    public void close() {
        end();
        machine.close();
        ram.close();
    }
}
