/**
 * The virtio console device (device ID 3, spec 5.3) as seen by the host: the
 * {@link dev.peridot.virtio.console.VirtioConsole} service (one per console device; the shell
 * and embedders use it), the port description {@link dev.peridot.virtio.console.PortSpec} with
 * its {@link dev.peridot.virtio.console.BackendSpec}, the snapshot
 * {@link dev.peridot.virtio.console.PortInfo}, the feature bits
 * {@link dev.peridot.virtio.console.ConsoleFeature}, and the configuration PIDs in
 * {@link dev.peridot.virtio.console.ConsoleConstants}.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.console;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
