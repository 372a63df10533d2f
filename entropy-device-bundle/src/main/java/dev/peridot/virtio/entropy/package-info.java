/**
 * The entropy device, virtio-rng (device ID 4, spec 5.4): {@link dev.peridot.virtio.entropy.EntropyDevice}
 * and the sources it fills the driver's buffers from — {@link dev.peridot.virtio.entropy.SecureRandomSource}
 * by default and {@link dev.peridot.virtio.entropy.SeededSource}, a documented reproducible stream
 * for tests. In OSGi a factory configuration with PID {@code dev.peridot.virtio.entropy}
 * creates and registers a device.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.entropy;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
