/**
 * Virtqueues as a device uses them: {@link VirtqueueAccess} pops available
 * {@link DescriptorChain}s and pushes them to the used ring; {@link SplitRing} holds the split
 * ring's layout (spec 2.7) for devices, transports and drivers alike.
 *
 * <p>The interfaces do not depend on the ring format, so a packed-ring implementation
 * (spec 2.8) can be added without changing devices.
 */
@Export
@Version("1.1.0")
package dev.peridot.virtio.queue;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
