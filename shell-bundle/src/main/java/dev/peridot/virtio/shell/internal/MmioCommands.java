package dev.peridot.virtio.shell.internal;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioRegisters;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.felix.service.command.Descriptor;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/** {@code mmio:*}: the register file of a slot, for experiments. These go through the same path as a driver. */
@Component(service = MmioCommands.class, property = {
        "osgi.command.scope=mmio",
        "osgi.command.function=regs",
        "osgi.command.function=read",
        "osgi.command.function=write"})
public final class MmioCommands {

    /** The readable registers, in map order. */
    private static final int[] READABLE = {MAGIC_VALUE, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, QUEUE_NUM_MAX,
            QUEUE_READY, INTERRUPT_STATUS, STATUS, SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH, QUEUE_RESET,
            CONFIG_GENERATION};

    private final DeviceDirectory devices;

    @Activate
    public MmioCommands(BundleContext context) {
        this.devices = new DeviceDirectory(context);
    }

    @Descriptor("Dump the readable registers of an MMIO slot (per-queue ones for the queue the driver selected last)")
    public Report<Map<String, Integer>> regs(@Descriptor("slot number, see virtio:list") int slot) {
        MmioDeviceAccess w = window(slot);
        Map<String, Integer> values = new LinkedHashMap<>();
        StringBuilder sb = new StringBuilder(String.format("slot %d @0x%x irq %d: %s%n", w.slot(), w.baseAddress(),
                w.irq(), w.isBound() ? w.deviceName() : "empty"));
        for (int offset : READABLE) {
            int value = w.read(offset, 4);
            values.put(MmioRegisters.name(offset), value);
            sb.append(String.format("  0x%03x %-17s 0x%08x%n", offset, MmioRegisters.name(offset), value));
        }
        return new Report<>(sb.toString(), values);
    }

    @Descriptor("Read a register or config field of an MMIO slot")
    public Report<Integer> read(@Descriptor("slot number") int slot,
                                @Descriptor("offset in the window, for example 0x70 or 0x100") String offset,
                                @Descriptor("access width in bytes: 1, 2 or 4") int width) {
        MmioDeviceAccess w = window(slot);
        int off = parse(offset);
        int value = w.read(off, width);
        return new Report<>(String.format("slot %d 0x%03x %s (width %d) = 0x%x (%d)%n", slot, off,
                MmioRegisters.name(off), width, value, value), value);
    }

    @Descriptor("Read a 32-bit register of an MMIO slot")
    public Report<Integer> read(@Descriptor("slot number") int slot,
                                @Descriptor("offset in the window, for example 0x70") String offset) {
        return read(slot, offset, 4);
    }

    @Descriptor("Write a register or config field of an MMIO slot, as a driver would")
    public Report<Integer> write(@Descriptor("slot number") int slot,
                                 @Descriptor("offset in the window, for example 0x70") String offset,
                                 @Descriptor("value, decimal or 0x-hex") String value,
                                 @Descriptor("access width in bytes: 1, 2 or 4") int width) {
        MmioDeviceAccess w = window(slot);
        int off = parse(offset);
        int v = parse(value);
        w.write(off, width, v);
        return new Report<>(String.format("slot %d 0x%03x %s (width %d) <- 0x%x%n", slot, off, MmioRegisters.name(off),
                width, v), v);
    }

    @Descriptor("Write a 32-bit register of an MMIO slot, as a driver would")
    public Report<Integer> write(@Descriptor("slot number") int slot,
                                 @Descriptor("offset in the window, for example 0x70") String offset,
                                 @Descriptor("value, decimal or 0x-hex") String value) {
        return write(slot, offset, value, 4);
    }

    private MmioDeviceAccess window(int slot) {
        return devices.slot(slot).orElseThrow(() -> new IllegalArgumentException("no device is bound to MMIO slot " + slot));
    }

    static int parse(String number) {
        return (int) (long) Long.decode(number.trim());
    }
}
