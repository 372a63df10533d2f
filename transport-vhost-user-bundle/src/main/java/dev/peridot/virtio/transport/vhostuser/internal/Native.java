package dev.peridot.virtio.transport.vhostuser.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The few Linux (x86-64, glibc) system calls the JDK does not offer, as foreign function
 * downcalls: Unix stream sockets with SCM_RIGHTS file descriptor passing, {@code poll},
 * {@code eventfd}, {@code mmap}/{@code munmap}, and plain {@code read}/{@code write}/{@code close}
 * on file descriptors.
 *
 * <p>Every call that can fail captures {@code errno} in the same downcall (a later call could
 * overwrite it) and reports failure with an {@link IOException} naming the call and the error.
 * Calls that are on a hot path ({@link #signalEventFd}, {@link #drainEventFd}, {@link #poll})
 * take caller-owned buffers and allocate nothing.
 */
// Restricted FFM methods (downcalls, reinterpret) are the point of this class; the runtime
// grants native access (--enable-native-access=ALL-UNNAMED, toolchain.md pitfall 3).
@SuppressWarnings("restricted")
public final class Native {

    /** {@code AF_UNIX}. */
    static final int AF_UNIX = 1;
    /** {@code SOCK_STREAM}. */
    static final int SOCK_STREAM = 1;
    /** {@code SOCK_CLOEXEC}: no descriptor of ours leaks into a child process (QEMU started by a test). */
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    /** {@code MSG_CTRUNC}: the kernel dropped file descriptors that did not fit our control buffer. */
    static final int MSG_CTRUNC = 0x8;
    /** {@code MSG_NOSIGNAL}: a peer that went away gives EPIPE, not SIGPIPE. */
    static final int MSG_NOSIGNAL = 0x4000;
    /** {@code MSG_CMSG_CLOEXEC}: received descriptors are close-on-exec from the start. */
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int EFD_CLOEXEC = 0x80000;
    static final int EFD_NONBLOCK = 0x800;
    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int MAP_SHARED = 1;
    /** {@code MAP_FAILED}, i.e. {@code (void *) -1}. */
    static final long MAP_FAILED = -1L;

    public static final short POLLIN = 0x1;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;

    static final int EINTR = 4;
    static final int EAGAIN = 11;

    /** {@code struct pollfd { int fd; short events; short revents; }}. */
    public static final long POLLFD_SIZE = 8;
    /** {@code sizeof(struct sockaddr_un)}: a 2-byte family and a 108-byte path. */
    private static final int SOCKADDR_UN_SIZE = 110;
    private static final int SUN_PATH_MAX = 107;

    /** {@code struct msghdr} on x86-64 (56 bytes). */
    private static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("msg_name"),
            ValueLayout.JAVA_INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4),
            ValueLayout.ADDRESS.withName("msg_iov"),
            ValueLayout.JAVA_LONG.withName("msg_iovlen"),
            ValueLayout.ADDRESS.withName("msg_control"),
            ValueLayout.JAVA_LONG.withName("msg_controllen"),
            ValueLayout.JAVA_INT.withName("msg_flags"),
            MemoryLayout.paddingLayout(4));
    private static final long MSG_IOV = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_iov"));
    private static final long MSG_IOVLEN = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_iovlen"));
    private static final long MSG_CONTROL = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_control"));
    private static final long MSG_CONTROLLEN = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_controllen"));
    private static final long MSG_FLAGS = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_flags"));
    /** {@code struct iovec { void *base; size_t len; }}. */
    private static final long IOVEC_SIZE = 16;
    /** {@code struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }} header size. */
    static final long CMSG_HEADER = 16;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle SOCKET = downcall("socket",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle BIND = downcall("bind",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CONNECT = downcall("connect",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle LISTEN = downcall("listen",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle ACCEPT4 = downcall("accept4",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT));
    private static final MethodHandle RECVMSG = downcall("recvmsg",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle SENDMSG = downcall("sendmsg",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle WRITE = downcall("write",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle POLL = downcall("poll",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle EVENTFD = downcall("eventfd",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = downcall("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle FSTAT = downcall("fstat",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    /** {@code sizeof(struct stat)} is 144 on x86-64 (128 on aarch64); room for either. */
    private static final long STAT_SIZE = 256;
    /** Offset of {@code st_size} in {@code struct stat} (48 on x86-64 and on aarch64). */
    private static final long STAT_ST_SIZE = 48;
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle SYSCONF = LINKER.downcallHandle(LIBC.find("sysconf").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    /** {@code _SC_PAGESIZE}. */
    private static final int SC_PAGESIZE = 30;
    /** The host page size; mmap offsets must be multiples of it. */
    public static final long PAGE_SIZE = pageSize();

    private Native() {
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        // With captureCallState the handle takes a leading MemorySegment for the captured errno.
        return LINKER.downcallHandle(symbol, descriptor, CAPTURE_ERRNO);
    }

    private static long pageSize() {
        try {
            long size = (long) SYSCONF.invokeExact(SC_PAGESIZE);
            return size > 0 ? size : 4096;
        } catch (Throwable t) {
            return 4096;
        }
    }

    /** Scratch space for one call's captured errno; one per thread so the hot paths allocate nothing. */
    private static final ThreadLocal<MemorySegment> ERRNO_SPACE =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE_LAYOUT));

    private static MemorySegment errnoSpace() {
        return ERRNO_SPACE.get();
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** The text for an errno value, e.g. "Connection reset by peer". */
    public static String describeErrno(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0) + " (errno " + errno + ")";
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static IOException failure(String call, MemorySegment capture) {
        return new IOException(call + " failed: " + describeErrno(errno(capture)));
    }

    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    // ---------------------------------------------------------------- sockets

    private static MemorySegment socketAddress(Arena arena, String path) throws IOException {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > SUN_PATH_MAX) {
            throw new IOException("a Unix socket path must have 1 to " + SUN_PATH_MAX + " bytes: " + path);
        }
        MemorySegment address = arena.allocate(SOCKADDR_UN_SIZE);
        address.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, address, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return address;
    }

    /** Creates a listening Unix stream socket at {@code path} (which must not exist) with a backlog of 1. */
    public static int listenUnix(String path) throws IOException {
        int fd = unixSocket();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = socketAddress(arena, path);
            MemorySegment capture = errnoSpace();
            if ((int) BIND.invokeExact(capture, fd, address, SOCKADDR_UN_SIZE) < 0) {
                throw failure("bind(" + path + ")", capture);
            }
            if ((int) LISTEN.invokeExact(capture, fd, 1) < 0) {
                throw failure("listen(" + path + ")", capture);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            closeQuietly(fd);
            throw e;
        } catch (Throwable t) {
            closeQuietly(fd);
            throw unexpected(t);
        }
    }

    /** Connects a Unix stream socket to {@code path} (the front-end side, for tests). */
    public static int connectUnix(String path) throws IOException {
        int fd = unixSocket();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = socketAddress(arena, path);
            MemorySegment capture = errnoSpace();
            if ((int) CONNECT.invokeExact(capture, fd, address, SOCKADDR_UN_SIZE) < 0) {
                throw failure("connect(" + path + ")", capture);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            closeQuietly(fd);
            throw e;
        } catch (Throwable t) {
            closeQuietly(fd);
            throw unexpected(t);
        }
    }

    private static int unixSocket() throws IOException {
        try {
            MemorySegment capture = errnoSpace();
            int fd = (int) SOCKET.invokeExact(capture, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw failure("socket(AF_UNIX)", capture);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Accepts a connection on a listening socket (blocks; poll first to make it interruptible). */
    public static int accept(int listenFd) throws IOException {
        try {
            MemorySegment capture = errnoSpace();
            int fd = (int) ACCEPT4.invokeExact(capture, listenFd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
            if (fd < 0) {
                throw failure("accept", capture);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Receives up to {@code length} bytes into {@code buffer} and any file descriptors sent with
     * them. Descriptors are appended to {@code fdsOut} from index {@code fdsCount}; the kernel
     * hands at most {@code fdsOut.length - fdsCount} of them over, and if the sender passed more,
     * the rest are dropped by the kernel and {@link ReceiveResult#truncated} says so.
     */
    public static ReceiveResult receive(int fd, MemorySegment buffer, long length, int[] fdsOut, int fdsCount)
            throws IOException {
        int room = fdsOut.length - fdsCount;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(IOVEC_SIZE, 8);
            iov.set(ValueLayout.ADDRESS, 0, buffer);
            iov.set(ValueLayout.JAVA_LONG, 8, length);
            long controlSize = room > 0 ? cmsgSpace(room * 4L) : 0;
            MemorySegment control = controlSize > 0 ? arena.allocate(controlSize, 8) : MemorySegment.NULL;
            MemorySegment msg = arena.allocate(MSGHDR);
            msg.set(ValueLayout.ADDRESS, MSG_IOV, iov);
            msg.set(ValueLayout.JAVA_LONG, MSG_IOVLEN, 1L);
            msg.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
            msg.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, controlSize);
            MemorySegment capture = errnoSpace();
            long n;
            do {
                n = (long) RECVMSG.invokeExact(capture, fd, msg, MSG_CMSG_CLOEXEC);
            } while (n < 0 && errno(capture) == EINTR);
            if (n < 0) {
                throw failure("recvmsg", capture);
            }
            int flags = msg.get(ValueLayout.JAVA_INT, MSG_FLAGS);
            long controlUsed = msg.get(ValueLayout.JAVA_LONG, MSG_CONTROLLEN);
            int received = controlSize > 0 ? parseRights(control, Math.min(controlUsed, controlSize), fdsOut, fdsCount) : 0;
            return new ReceiveResult(n, received, (flags & MSG_CTRUNC) != 0);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** What one {@link #receive} got: bytes (0 at end of stream), descriptors, and whether descriptors were dropped. */
    public record ReceiveResult(long bytes, int fds, boolean truncated) {
    }

    /** {@code CMSG_SPACE(dataLength)}: header plus data, aligned to 8 bytes. */
    static long cmsgSpace(long dataLength) {
        return CMSG_HEADER + ((dataLength + 7) & ~7L);
    }

    /**
     * Walks the control messages by hand (the CMSG_* macros do not exist here) and collects the
     * descriptors of SCM_RIGHTS messages. Other control messages carry nothing we use.
     */
    static int parseRights(MemorySegment control, long used, int[] fdsOut, int fdsCount) {
        long offset = 0;
        int count = 0;
        while (offset + CMSG_HEADER <= used) {
            long cmsgLen = control.get(ValueLayout.JAVA_LONG, offset);
            int level = control.get(ValueLayout.JAVA_INT, offset + 8);
            int type = control.get(ValueLayout.JAVA_INT, offset + 12);
            if (cmsgLen < CMSG_HEADER || offset + cmsgLen > used) {
                break;
            }
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                long n = (cmsgLen - CMSG_HEADER) / 4;
                for (long i = 0; i < n; i++) {
                    int received = control.get(ValueLayout.JAVA_INT, offset + CMSG_HEADER + 4 * i);
                    if (fdsCount + count < fdsOut.length) {
                        fdsOut[fdsCount + count++] = received;
                    } else {
                        closeQuietly(received);
                    }
                }
            }
            offset += (cmsgLen + 7) & ~7L;
        }
        return count;
    }

    /**
     * Sends {@code length} bytes of {@code buffer} and, with the first byte, the descriptors
     * {@code fds} (may be empty). Loops over short writes.
     */
    public static void send(int fd, MemorySegment buffer, long length, int[] fds) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(IOVEC_SIZE, 8);
            MemorySegment msg = arena.allocate(MSGHDR);
            MemorySegment control = MemorySegment.NULL;
            long controlSize = 0;
            if (fds.length > 0) {
                controlSize = cmsgSpace(fds.length * 4L);
                control = arena.allocate(controlSize, 8);
                control.set(ValueLayout.JAVA_LONG, 0, CMSG_HEADER + fds.length * 4L);
                control.set(ValueLayout.JAVA_INT, 8, SOL_SOCKET);
                control.set(ValueLayout.JAVA_INT, 12, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    control.set(ValueLayout.JAVA_INT, CMSG_HEADER + 4L * i, fds[i]);
                }
            }
            long sent = 0;
            MemorySegment capture = errnoSpace();
            while (sent < length || (sent == 0 && length == 0)) {
                iov.set(ValueLayout.ADDRESS, 0, buffer.asSlice(sent));
                iov.set(ValueLayout.JAVA_LONG, 8, length - sent);
                msg.set(ValueLayout.ADDRESS, MSG_IOV, iov);
                msg.set(ValueLayout.JAVA_LONG, MSG_IOVLEN, 1L);
                msg.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
                msg.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, controlSize);
                long n = (long) SENDMSG.invokeExact(capture, fd, msg, MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno(capture) == EINTR) {
                        continue;
                    }
                    throw failure("sendmsg", capture);
                }
                sent += n;
                control = MemorySegment.NULL; // Descriptors go with the first chunk only.
                controlSize = 0;
                if (length == 0) {
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---------------------------------------------------------------- descriptors, poll, eventfd

    /** Closes a descriptor, ignoring errors (there is nothing useful to do about them); negative values are ignored. */
    public static void closeQuietly(int fd) {
        if (fd < 0) {
            return;
        }
        try {
            int ignored = (int) CLOSE.invokeExact(errnoSpace(), fd);
        } catch (Throwable t) {
            // close(2) failing leaves nothing to clean up.
        }
    }

    /**
     * {@code poll(2)} over {@code count} entries of {@code pollfds}; returns the number of ready
     * entries, 0 on timeout, or -1 if interrupted by a signal.
     */
    public static int poll(MemorySegment pollfds, int count, int timeoutMillis) throws IOException {
        try {
            MemorySegment capture = errnoSpace();
            int n = (int) POLL.invokeExact(capture, pollfds, (long) count, timeoutMillis);
            if (n < 0) {
                if (errno(capture) == EINTR) {
                    return -1;
                }
                throw failure("poll", capture);
            }
            return n;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Sets entry {@code i} of a pollfd array to wait for input on {@code fd}. */
    public static void setPollFd(MemorySegment pollfds, int i, int fd) {
        pollfds.set(ValueLayout.JAVA_INT, i * POLLFD_SIZE, fd);
        pollfds.set(ValueLayout.JAVA_SHORT, i * POLLFD_SIZE + 4, POLLIN);
        pollfds.set(ValueLayout.JAVA_SHORT, i * POLLFD_SIZE + 6, (short) 0);
    }

    /** The returned events of entry {@code i}. */
    public static short polledEvents(MemorySegment pollfds, int i) {
        return pollfds.get(ValueLayout.JAVA_SHORT, i * POLLFD_SIZE + 6);
    }

    /** A new non-blocking, close-on-exec eventfd with counter 0. */
    public static int eventFd() throws IOException {
        try {
            MemorySegment capture = errnoSpace();
            int fd = (int) EVENTFD.invokeExact(capture, 0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (fd < 0) {
                throw failure("eventfd", capture);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Adds the 8-byte value in {@code one} (which the caller prepared, normally 1) to an eventfd's
     * counter. Returns false if the write failed (a closed descriptor, a full counter); a signal
     * that cannot be delivered has no one left to receive it.
     */
    public static boolean signalEventFd(int fd, MemorySegment one) {
        try {
            return (long) WRITE.invokeExact(errnoSpace(), fd, one, 8L) == 8L;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Reads (and so resets) an eventfd's counter into {@code scratch} (8 bytes); returns whether it was signalled. */
    public static boolean drainEventFd(int fd, MemorySegment scratch) {
        try {
            return (long) READ.invokeExact(errnoSpace(), fd, scratch, 8L) == 8L;
        } catch (Throwable t) {
            return false;
        }
    }

    // ---------------------------------------------------------------- memory mapping

    /** Maps {@code length} bytes of {@code fd} from {@code offset} (page-aligned) shared and read-write; returns the address. */
    public static long mapShared(int fd, long offset, long length) throws IOException {
        try {
            MemorySegment capture = errnoSpace();
            long address = (long) MMAP.invokeExact(capture, 0L, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
            if (address == MAP_FAILED) {
                throw failure(String.format("mmap(fd %d, offset 0x%x, length 0x%x)", fd, offset, length), capture);
            }
            return address;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * The size in bytes of the file behind {@code fd} ({@code fstat} {@code st_size}). A shared
     * mapping may extend beyond the end of its file, but touching that part raises SIGBUS (in
     * Java: an {@link InternalError} from the memory access), so mappings are checked against it.
     */
    public static long fileSize(int fd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stat = arena.allocate(STAT_SIZE, 8);
            MemorySegment capture = errnoSpace();
            if ((int) FSTAT.invokeExact(capture, fd, stat) < 0) {
                throw failure("fstat(fd " + fd + ")", capture);
            }
            return stat.get(ValueLayout.JAVA_LONG, STAT_ST_SIZE);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Whether {@code fd} is an eventfd (its {@code /proc/self/fd} link reads
     * {@code anon_inode:[eventfd]}). Where {@code /proc} cannot tell, the answer is yes: the
     * check must not refuse a real eventfd.
     */
    public static boolean isEventFd(int fd) {
        if (fd < 0) {
            return false;
        }
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd", Integer.toString(fd)))
                    .toString().equals("anon_inode:[eventfd]");
        } catch (java.nio.file.NoSuchFileException e) {
            return false; // Not an open descriptor.
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return true;
        }
    }

    /** Unmaps a mapping made by {@link #mapShared}. */
    public static void unmap(long address, long length) {
        try {
            int ignored = (int) MUNMAP.invokeExact(errnoSpace(), address, length);
        } catch (Throwable t) {
            // Nothing left to do: the mapping goes away with the process at the latest.
        }
    }
}
