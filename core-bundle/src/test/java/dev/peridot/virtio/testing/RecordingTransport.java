package dev.peridot.virtio.testing;

import dev.peridot.virtio.device.DeviceTransport;
import dev.peridot.virtio.device.NotifyDriver;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/** A transport for unit tests: guest memory plus counters of every notification the device sent. */
public final class RecordingTransport implements DeviceTransport, NotifyDriver {

    public final GuestMemory memory;
    public final AtomicIntegerArray usedNotifications = new AtomicIntegerArray(64);
    public final AtomicInteger configNotifications = new AtomicInteger();
    public final AtomicInteger resetsCompleted = new AtomicInteger();
    /** Status seen by the device at the moment it sent the last config notification. */
    public volatile Runnable onConfigNotification = () -> { };
    private final FeatureSet supported;

    public RecordingTransport(GuestMemory memory) {
        this(memory, FeatureSet.of(ReservedFeature.values()));
    }

    public RecordingTransport(GuestMemory memory, FeatureSet supported) {
        this.memory = memory;
        this.supported = supported;
    }

    @Override
    public String name() {
        return "test";
    }

    @Override
    public GuestMemory guestMemory() {
        return memory;
    }

    @Override
    public NotifyDriver notifyDriver() {
        return this;
    }

    @Override
    public FeatureSet supportedFeatures() {
        return supported;
    }

    @Override
    public void resetCompleted() {
        resetsCompleted.incrementAndGet();
    }

    @Override
    public void usedBuffer(int queue) {
        usedNotifications.incrementAndGet(queue);
    }

    @Override
    public void configurationChanged() {
        onConfigNotification.run();
        configNotifications.incrementAndGet();
    }

    public int totalUsedNotifications() {
        int total = 0;
        for (int i = 0; i < usedNotifications.length(); i++) {
            total += usedNotifications.get(i);
        }
        return total;
    }
}
