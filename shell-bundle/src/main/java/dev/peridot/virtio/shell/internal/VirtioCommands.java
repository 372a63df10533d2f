package dev.peridot.virtio.shell.internal;

import dev.peridot.virtio.device.DeviceState;
import dev.peridot.virtio.device.DeviceStatistics;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.device.DeviceType;
import dev.peridot.virtio.device.QueueInfo;
import dev.peridot.virtio.feature.Feature;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.shell.internal.DeviceDirectory.Device;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioStatistics;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.apache.felix.service.command.Descriptor;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/** {@code virtio:*}: what every device is doing, as the spec's "traffic lights" and more. */
@Component(service = VirtioCommands.class, property = {
        "osgi.command.scope=virtio",
        "osgi.command.function=list",
        "osgi.command.function=status",
        "osgi.command.function=features",
        "osgi.command.function=queues",
        "osgi.command.function=config",
        "osgi.command.function=reset",
        "osgi.command.function=interrupts"})
public final class VirtioCommands {

    /** One row of {@code virtio:list}. */
    public record DeviceRow(String name, int deviceId, String type, String transport, int slot, int status,
                            DeviceState state, int negotiatedFeatures) {
    }

    /** One status bit of {@code virtio:status}. */
    public record StatusLight(String name, int bit, boolean lit, String meaning) {
    }

    /** {@code virtio:status} as data. */
    public record StatusData(String device, int status, List<StatusLight> lights, DeviceState state,
                             boolean resetUnderway, String needsResetReason) {
    }

    /** One feature of {@code virtio:features}. */
    public record FeatureRow(int bit, String name, boolean offered, boolean negotiated) {
    }

    /** One slot of {@code virtio:interrupts}. */
    public record InterruptRow(int slot, String device, int irq, boolean asserted, MmioStatistics statistics) {
    }

    private final DeviceDirectory devices;

    @Activate
    public VirtioCommands(BundleContext context) {
        this.devices = new DeviceDirectory(context);
    }

    @Descriptor("List the virtio devices: slot, name, type, status and negotiated feature count")
    public Report<List<DeviceRow>> list() {
        List<DeviceRow> rows = new ArrayList<>();
        Table table = new Table("SLOT", "NAME", "TYPE", "TRANSPORT", "STATUS", "STATE", "FEATURES");
        for (Device d : devices.all()) {
            int slot = d.mmio().map(MmioDeviceAccess::slot).orElse(-1);
            DeviceRow row = new DeviceRow(d.name(), d.config().deviceId(), DeviceType.nameOf(d.config().deviceId()),
                    d.lifeCycle().transportName().orElse("-"), slot, d.config().status(), d.lifeCycle().state(),
                    d.features().negotiated().count());
            rows.add(row);
            table.row(slot < 0 ? "-" : slot, row.name(), row.type(), row.transport(), hex2(row.status()), row.state(),
                    row.negotiatedFeatures());
        }
        String text = rows.isEmpty() ? "no virtio devices\n" : table.toString();
        return new Report<>(text, rows);
    }

    @Descriptor("Show every status bit of a device lit or dark, and its internal state")
    public Report<StatusData> status(@Descriptor("device name, see virtio:list") String device) {
        Device d = devices.find(device);
        int status = d.config().status();
        List<StatusLight> lights = List.of(
                light("ACKNOWLEDGE", DeviceStatus.ACKNOWLEDGE, status, "the guest found the device"),
                light("DRIVER", DeviceStatus.DRIVER, status, "the guest has a driver for it"),
                light("FEATURES_OK", DeviceStatus.FEATURES_OK, status, "feature negotiation is complete"),
                light("DRIVER_OK", DeviceStatus.DRIVER_OK, status, "the driver is ready: the device is live"),
                light("DEVICE_NEEDS_RESET", DeviceStatus.DEVICE_NEEDS_RESET, status,
                        "the device hit an error it cannot recover from"),
                light("FAILED", DeviceStatus.FAILED, status, "the driver gave up on the device"));
        String reason = d.lifeCycle().needsResetReason().orElse(null);
        StatusData data = new StatusData(d.name(), status, lights, d.lifeCycle().state(), d.config().isResetUnderway(),
                reason);
        StringBuilder sb = new StringBuilder();
        sb.append(d.name()).append(" (").append(DeviceType.nameOf(d.config().deviceId())).append(", ")
                .append(where(d)).append("): status ").append(hex2(status)).append(' ')
                .append(DeviceStatus.describe(status)).append('\n');
        for (StatusLight l : lights) {
            sb.append(String.format("  %s %-19s 0x%02x  %s%n", l.lit() ? "●" : "○", l.name(), l.bit(), l.meaning()));
        }
        sb.append("  state: ").append(data.state());
        sb.append(data.resetUnderway() ? " (RESET_UNDERWAY: Status shows its old value until the reset finishes)" : "");
        sb.append('\n');
        if (reason != null) {
            sb.append("  needs reset because: ").append(reason).append('\n');
        }
        return new Report<>(sb.toString(), data);
    }

    private static StatusLight light(String name, int bit, int status, String meaning) {
        return new StatusLight(name, bit, (status & bit) != 0, meaning);
    }

    @Descriptor("Show the features a device offers and the ones negotiated, by name")
    public Report<List<FeatureRow>> features(@Descriptor("device name, see virtio:list") String device) {
        Device d = devices.find(device);
        FeatureSet offered = d.features().offered();
        FeatureSet negotiated = d.features().negotiated();
        TreeSet<Integer> bits = new TreeSet<>();
        for (int b : offered.union(negotiated).bits()) {
            bits.add(b);
        }
        for (Feature f : d.features().knownFeatures()) {
            if (f.bit() < 24 || f.bit() > 49) {
                bits.add(f.bit()); // Every device-specific feature, offered or not.
            }
        }
        List<FeatureRow> rows = new ArrayList<>();
        Table table = new Table("BIT", "NAME", "OFFERED", "NEGOTIATED");
        for (int bit : bits) {
            FeatureRow row = new FeatureRow(bit, d.features().name(bit), offered.contains(bit), negotiated.contains(bit));
            rows.add(row);
            table.row(bit, row.name(), row.offered() ? "yes" : "-", row.negotiated() ? "yes" : "-");
        }
        String header = String.format("%s: offered %s, negotiated %s%n", d.name(), offered, negotiated);
        return new Report<>(header + table, rows);
    }

    @Descriptor("Show each queue: size, ready, areas, indices, buffers in flight, notifications and interrupts")
    public Report<List<QueueInfo>> queues(@Descriptor("device name, see virtio:list") String device) {
        Device d = devices.find(device);
        List<QueueInfo> infos = new ArrayList<>();
        Table table = new Table("Q", "MAX", "SIZE", "READY", "DESC", "AVAIL", "USED", "NEXT", "A.IDX", "U.IDX",
                "INFL", "KICKS", "IRQS", "POPPED");
        int count = d.config().queueCount();
        for (int q = 0; q < count; q++) {
            QueueInfo i = d.lifeCycle().queueInfo(q);
            if (i.maxSize() == 0 && !i.ready() && i.chainsPopped() == 0) {
                continue; // Not available with the current features.
            }
            infos.add(i);
            table.row(q, i.maxSize(), i.size(), i.ready() ? (i.broken() ? "broken" : "yes") : (i.resetInProgress() ? "reset" : "-"),
                    addr(i.descriptorArea()), addr(i.driverArea()), addr(i.deviceArea()), i.ready() ? i.nextAvail() : "-",
                    i.driverAvailIdx() < 0 ? "-" : i.driverAvailIdx(), i.ready() ? i.usedIdx() : "-", i.inFlight(),
                    i.notificationsReceived(), i.notificationsSent(), i.chainsPopped());
        }
        String text = infos.isEmpty() ? d.name() + ": no queue is available yet\n" : table.toString();
        return new Report<>(text, infos);
    }

    @Descriptor("Show the device-specific configuration: decoded fields and a hex dump")
    public Report<byte[]> config(@Descriptor("device name, see virtio:list") String device) {
        Device d = devices.find(device);
        byte[] bytes = d.lifeCycle().configSpace();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s: %d bytes, generation %d%n", d.name(), bytes.length, d.config().configGeneration()));
        if (d.config().deviceId() == DeviceType.CONSOLE.id() && bytes.length >= 12) {
            sb.append(String.format("  cols          %d%n", u16(bytes, 0)));
            sb.append(String.format("  rows          %d%n", u16(bytes, 2)));
            sb.append(String.format("  max_nr_ports  %d%n", u32(bytes, 4)));
            sb.append("  emerg_wr      (write-only)\n");
        }
        for (int off = 0; off < bytes.length; off += 16) {
            sb.append(String.format("  %04x: ", off));
            for (int i = off; i < Math.min(bytes.length, off + 16); i++) {
                sb.append(String.format("%02x ", bytes[i] & 0xFF));
            }
            sb.append('\n');
        }
        return new Report<>(sb.toString(), bytes);
    }

    @Descriptor("Reset a device from the host side, as if its driver had written 0 to Status")
    public Report<DeviceState> reset(@Descriptor("device name, see virtio:list") String device) {
        Device d = devices.find(device);
        d.lifeCycle().reset();
        DeviceState state = d.lifeCycle().state();
        DeviceStatistics stats = d.lifeCycle().statistics();
        return new Report<>(String.format("%s reset: state %s, %d resets so far%n", d.name(), state, stats.resets()), state);
    }

    @Descriptor("Show the interrupt lines of the MMIO slots: level, InterruptStatus, raised and acknowledged")
    public Report<List<InterruptRow>> interrupts() {
        List<InterruptRow> rows = new ArrayList<>();
        Table table = new Table("SLOT", "DEVICE", "IRQ", "LINE", "RAISED", "ASSERTED", "ACKED", "KICKS", "INVALID");
        for (Device d : devices.all()) {
            if (d.mmio().isEmpty()) {
                continue;
            }
            MmioDeviceAccess w = d.mmio().get();
            MmioStatistics s = w.statistics();
            InterruptRow row = new InterruptRow(w.slot(), d.name(), w.irq(), w.interruptAsserted(), s);
            rows.add(row);
            table.row(w.slot(), d.name(), w.irq(), w.interruptAsserted() ? "high" : "low", s.interruptsRaised(),
                    s.lineAssertions(), s.interruptsAcknowledged(), s.notificationsReceived(), s.invalidAccesses());
        }
        String text = rows.isEmpty() ? "no device is bound to MMIO\n" : table.toString();
        return new Report<>(text, rows);
    }

    private static String where(Device d) {
        return d.mmio().map(w -> "mmio slot " + w.slot() + ", irq " + w.irq())
                .orElse(d.lifeCycle().transportName().orElse("not bound"));
    }

    static String hex2(int value) {
        return String.format("0x%02x", value);
    }

    static String addr(long address) {
        return address == 0 ? "-" : String.format("0x%x", address);
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    private static long u32(byte[] b, int off) {
        return (u16(b, off) | (long) u16(b, off + 2) << 16) & 0xFFFF_FFFFL;
    }
}
