// lib/files: sources and sinks (see io.h).
#include "files/io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include <truflux/error.h>

#include "crypto/sha256.h"

namespace tff {

namespace {

int errno_code(int e) {
    switch (e) {
    case ENOENT:
    case ENOTDIR: return TRUFLUX_ENOTFOUND;
    case EEXIST: return TRUFLUX_EEXIST;
    case ENOMEM: return TRUFLUX_ENOMEM;
    default: return TRUFLUX_EIO;
    }
}

void set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

class file_src final : public source {
public:
    file_src(int fd, bool owned) : fd_(fd), owned_(owned) {}
    ~file_src() override {
        if (owned_) ::close(fd_);
    }
    long read(tf_file_t *, uint64_t pos, uint8_t *buf, size_t len) override {
        for (;;) {
            ssize_t n = pread(fd_, buf, len, (off_t)pos);
            if (n >= 0) return (long)n;
            if (errno != EINTR) return TRUFLUX_EIO;
        }
    }
    int file_fd() const override { return fd_; }
    void disown() override { owned_ = false; }

private:
    int fd_;
    bool owned_;
};

class stream_src final : public source {
public:
    explicit stream_src(int fd) : fd_(fd) {}
    ~stream_src() override {
        if (owned_) ::close(fd_);
    }
    long read(tf_file_t *, uint64_t, uint8_t *buf, size_t len) override {
        if (!nonblocking_) {
            set_nonblocking(fd_);
            nonblocking_ = true;
        }
        for (;;) {
            ssize_t n = ::read(fd_, buf, len);
            if (n >= 0) return (long)n;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return TRUFLUX_EAGAIN;
            if (errno != EINTR) return TRUFLUX_EIO;
        }
    }
    int poll_fd() const override { return fd_; }
    void disown() override { owned_ = false; }

private:
    int fd_;
    bool owned_ = true, nonblocking_ = false;
};

class callback_src final : public source {
public:
    explicit callback_src(const tf_file_io_t &io) : io_(io) {}
    long read(tf_file_t *f, uint64_t, uint8_t *buf, size_t len) override {
        long n = io_.read(io_.arg, f, buf, len);
        return n > (long)len ? (long)len : n;
    }
    void close(tf_file_t *f, int status) override {
        if (io_.close) io_.close(io_.arg, f, status);
        io_.close = nullptr;
    }

private:
    tf_file_io_t io_;
};

class path_snk final : public sink {
public:
    path_snk(int dfd, int fd, std::string final_name, std::string temp, uint64_t at, bool sync)
        : dfd_(dfd), fd_(fd), final_(std::move(final_name)), temp_(std::move(temp)),
          start_(at), at_(at), sync_(sync) {}
    ~path_snk() override {
        if (fd_ >= 0) ::close(fd_);
        ::close(dfd_);
    }
    uint64_t start() const override { return start_; }
    long write(tf_file_t *, const uint8_t *p, size_t len) override {
        size_t done = 0;
        while (done < len) {
            ssize_t n = pwrite(fd_, p + done, len - done, (off_t)(at_ + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return TRUFLUX_EIO;
            done += (size_t)n;
        }
        at_ += len;
        return (long)len;
    }
    int readback_fd() const override { return fd_; }
    int commit(std::string *why) override {
        if (sync_ && fsync(fd_) != 0) {
            *why = std::string("fsync: ") + strerror(errno);
            return TRUFLUX_EIO;
        }
        // The rename is the one step that puts the content under its name: before it the
        // name holds nothing of ours, after it the whole verified content.
        if (renameat(dfd_, temp_.c_str(), dfd_, final_.c_str()) != 0) {
            *why = std::string("rename: ") + strerror(errno);
            return TRUFLUX_EIO;
        }
        committed_ = true;
        if (sync_) fsync(dfd_);
        return 0;
    }
    void discard(bool keep) override {
        if (!committed_ && !keep) unlinkat(dfd_, temp_.c_str(), 0);
    }

private:
    int dfd_, fd_;
    std::string final_, temp_;
    uint64_t start_, at_;
    bool sync_;
    bool committed_ = false;
};

class fd_snk final : public sink {
public:
    explicit fd_snk(int fd) : fd_(fd) {
        struct stat st;
        regular_ = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    }
    ~fd_snk() override {
        if (owned_) ::close(fd_);
    }
    long write(tf_file_t *, const uint8_t *p, size_t len) override {
        if (!regular_ && !nonblocking_) {
            set_nonblocking(fd_);
            nonblocking_ = true;
        }
        size_t done = 0;
        while (done < len) {
            ssize_t n = ::write(fd_, p + done, len - done);
            if (n > 0) {
                done += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !regular_) break;
            return TRUFLUX_EIO;
        }
        return (long)done;
    }
    int poll_fd() const override { return regular_ ? -1 : fd_; }
    void disown() override { owned_ = false; }

private:
    int fd_;
    bool regular_;
    bool owned_ = true, nonblocking_ = false;
};

class callback_snk final : public sink {
public:
    explicit callback_snk(const tf_file_io_t &io) : io_(io) {}
    long write(tf_file_t *f, const uint8_t *p, size_t len) override {
        long n = io_.write(io_.arg, f, p, len);
        return n > (long)len ? (long)len : n;
    }
    void close(tf_file_t *f, int status) override {
        if (io_.close) io_.close(io_.arg, f, status);
        io_.close = nullptr;
    }

private:
    tf_file_io_t io_;
};

}  // namespace

std::unique_ptr<source> file_source(int fd, bool owned) {
    return std::unique_ptr<source>(new file_src(fd, owned));
}

std::unique_ptr<source> stream_source(int fd) {
    return std::unique_ptr<source>(new stream_src(fd));
}

std::unique_ptr<source> callback_source(const tf_file_io_t &io) {
    return std::unique_ptr<source>(new callback_src(io));
}

int path_sink(const std::string &dir, const std::string &final_name, const std::string &temp,
              bool resume, uint64_t limit, bool sync, std::unique_ptr<sink> *out,
              std::string *why) {
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;
        *why = dir + ": " + strerror(e);
        return errno_code(e);
    }
    // O_NOFOLLOW: a symbolic link planted under the temporary name is refused, never
    // followed out of the directory.
    int flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (resume ? 0 : O_EXCL);
    int fd = openat(dfd, temp.c_str(), flags, 0666);
    if (fd < 0) {
        int e = errno;
        *why = dir + "/" + temp + ": " + strerror(e);
        ::close(dfd);
        return errno_code(e);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = dir + "/" + temp + ": not a regular file";
        ::close(fd);
        ::close(dfd);
        return TRUFLUX_EIO;
    }
    // Two transfers of the same content into the same place would share the temporary
    // file: the second is refused while the first holds it.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *why = dir + "/" + temp + ": in use by another transfer";
        ::close(fd);
        ::close(dfd);
        return TRUFLUX_EBUSY;
    }
    uint64_t at = resume ? (uint64_t)st.st_size : 0;
    if (at > limit) {
        // Longer than the content offered: not ours to continue.
        if (ftruncate(fd, 0) != 0) {
            *why = dir + "/" + temp + ": " + strerror(errno);
            ::close(fd);
            ::close(dfd);
            return TRUFLUX_EIO;
        }
        at = 0;
    }
    sink *s = new (std::nothrow) path_snk(dfd, fd, final_name, temp, at, sync);
    if (!s) {
        ::close(fd);
        ::close(dfd);
        return TRUFLUX_ENOMEM;
    }
    out->reset(s);
    return 0;
}

std::unique_ptr<sink> fd_sink(int fd) { return std::unique_ptr<sink>(new fd_snk(fd)); }

std::unique_ptr<sink> callback_sink(const tf_file_io_t &io) {
    return std::unique_ptr<sink>(new callback_snk(io));
}

bool file_key(int fd, const std::string &name, uint8_t key[16]) {
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    char text[256];
    int n = snprintf(text, sizeof text, "truflux-file-key %llu %llu %llu %lld %ld ",
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec,
                     (long)st.st_mtim.tv_nsec);
    std::string all(text, (size_t)n);
    all += name;
    uint8_t digest[32];
    tfc::sha256(all.data(), all.size(), digest);
    memcpy(key, digest, 16);
    if (key[0] == 0) key[0] = 1;  // all zero means "cannot resume"
    return true;
}

}  // namespace tff
