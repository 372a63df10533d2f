/**
 * The 'Virtio Device' abstraction (VD01): the abstract {@link VirtioDevice}, its states and
 * the five operation interfaces every specific device provides —
 * {@link ConfigOperations}, {@link RunOperations}, {@link FeatureOperations},
 * {@link LifeCycleOperations} and the {@link NotifyDriver} callback.
 *
 * <p>Device bundles register the operation interfaces as OSGi services; transports track them
 * and bind each device to a 'Device Config Space' through {@link DeviceTransport}.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.device;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
