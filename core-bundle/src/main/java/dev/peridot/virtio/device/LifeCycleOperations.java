package dev.peridot.virtio.device;

import dev.peridot.virtio.feature.FeatureSet;
import java.util.Optional;

/**
 * 'Life Cycle Operations' (VD01 §4.4, {@code virtio_device_life_ops}): lets an external
 * component — a transport binding, the shell, configuration — set the device's parameters, set
 * it up, inspect it and take it down.
 *
 * <p>Parameters that the driver has already seen (offered features, queue sizes) can only be
 * changed while no driver is using the device (status 0).
 */
public interface LifeCycleOperations {

    /** A name that identifies the device instance (for example {@code console0}). */
    String deviceName();

    /**
     * Binds the device to a transport. A device is bound to at most one transport at a time.
     *
     * @throws IllegalStateException if the device is already attached
     */
    void attach(DeviceTransport transport);

    /**
     * Unbinds the device: stops its worker, drops in-flight buffers, resets it, and stops using
     * the transport's memory and callbacks. Idempotent.
     */
    void detach();

    /** Whether a transport has bound the device. */
    boolean isAttached();

    /** The name of the transport the device is attached to, if any. */
    Optional<String> transportName();

    /** The features the device offers (before the transport's mask). */
    FeatureSet offeredFeatures();

    /**
     * Changes the offered features.
     *
     * @throws IllegalStateException if a driver is using the device
     * @throws IllegalArgumentException if the set holds a reserved bit the core does not implement
     */
    void setOfferedFeatures(FeatureSet features);

    /** Changes the vendor ID the transport shows. */
    void setVendorId(int vendorId);

    /**
     * Sets the number of queues and their maximum sizes (each a power of 2, at most 32768).
     *
     * @throws IllegalStateException if a driver is using the device
     */
    void setQueueMaxSizes(int... maxSizes);

    /** Resumes queue processing after {@link #stop()}; a new device is started. */
    void start();

    /** Pauses queue processing: buffers stay in the rings, nothing is lost. */
    void stop();

    /** Whether queue processing is not paused. */
    boolean isStarted();

    /**
     * Puts the device into DEVICE_NEEDS_RESET (spec 2.1.2): processing stops and, if the driver
     * is live, a configuration change notification is sent. Only a reset clears it.
     */
    void requestNeedsReset(String reason);

    /** Why the device is in DEVICE_NEEDS_RESET, if it is. */
    Optional<String> needsResetReason();

    /** Resets the device as if the driver had written 0 to Status (a host-initiated reset). */
    void reset();

    /** The life state (VD01 §2), including RESET_UNDERWAY. */
    DeviceState state();

    /** A snapshot of the device-specific configuration space. */
    byte[] configSpace();

    /** A snapshot of queue {@code queue}: layout, indices and counters. */
    QueueInfo queueInfo(int queue);

    /** Counters of what the driver did and how the device answered. */
    DeviceStatistics statistics();
}
