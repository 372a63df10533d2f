/**
 * The vhost-user transport: the back-end (device) side of QEMU's vhost-user protocol, one Unix
 * socket per device. {@link dev.peridot.virtio.transport.vhostuser.VhostUserBackend} is the
 * plain-Java entry point (tests, embedding); in OSGi, a factory configuration with PID
 * {@code dev.peridot.virtio.vhostuser} binds a registered device to a socket.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.transport.vhostuser;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
