package dev.peridot.virtio.testkit.support;

import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;

/** A machine with 64 MiB of RAM at 0x40000000, a console-shaped device in slot 0, and a test-kit driver registered as its interrupt sink. */
public final class MmioRig implements AutoCloseable {

    public static final long RAM_BASE = 0x4000_0000L;
    public static final long RAM_SIZE = 64L << 20;

    public final MmioMachine machine = new MmioMachine(MmioLayout.DEFAULT, RAM_BASE, RAM_SIZE);
    public final GuestRamAllocator ram = new GuestRamAllocator(RAM_BASE, RAM_SIZE);
    public final ConsoleShapedDevice device = new ConsoleShapedDevice("console0");
    public final MmioDeviceAccess window;
    public final VirtioMmioDriver driver;

    public MmioRig() {
        window = machine.bind(device);
        driver = new VirtioMmioDriver(window, ram);
        machine.addSink(driver, window.slot(), null);
    }

    /** A 32-bit register read. */
    public int r(int offset) {
        return window.read(offset, 4);
    }

    /** A 32-bit register write. */
    public void w(int offset, int value) {
        window.write(offset, 4, value);
    }

    @Override
    public void close() {
        machine.close();
    }
}
