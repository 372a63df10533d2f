package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;

/** A machine with 64 MiB of RAM, a console device in slot 0 and a test-kit driver as its interrupt sink. */
final class ConsoleRig implements AutoCloseable {

    static final long RAM_BASE = 0x4000_0000L;
    static final long RAM_SIZE = 64L << 20;

    final MmioMachine machine = new MmioMachine(MmioLayout.DEFAULT, RAM_BASE, RAM_SIZE);
    final GuestRamAllocator ram = new GuestRamAllocator(RAM_BASE, RAM_SIZE);
    final ConsoleDevice device;
    final MmioDeviceAccess window;
    final VirtioMmioDriver driver;
    final ConsoleGuest guest;

    ConsoleRig(ConsoleOptions options) {
        device = new ConsoleDevice(options);
        window = machine.bind(device);
        driver = new VirtioMmioDriver(window, ram);
        machine.addSink(driver, window.slot(), null);
        guest = new ConsoleGuest(driver);
    }

    static ConsoleRig single() {
        return new ConsoleRig(ConsoleOptions.defaults("console0"));
    }

    static ConsoleRig multiport(int ports) {
        return new ConsoleRig(ConsoleOptions.multiport("console0", ports));
    }

    /** A 32-bit register read. */
    int r(int offset) {
        return window.read(offset, 4);
    }

    @Override
    public void close() {
        machine.close();
        device.close();
    }
}
