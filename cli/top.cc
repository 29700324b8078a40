#include "cli/top.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "cli/format.h"
#include "cli/signal_fd.h"
#include "cli/snapshot.h"
#include "cli/stats_views.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;

void writeOut(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The alternate screen, a hidden cursor and (when stdin is a terminal)
// non-canonical input without echo; all undone on destruction.
class Terminal {
 public:
  Terminal() {
    keyboard_ = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved_) == 0;
    if (keyboard_) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    writeOut("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
  }
  ~Terminal() {
    writeOut("\x1b[?25h\x1b[?1049l");
    if (keyboard_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;
  bool keyboard() const { return keyboard_; }

 private:
  bool keyboard_ = false;
  termios saved_{};
};

struct ScreenSize {
  size_t rows = 24, columns = 80;
};

ScreenSize screenSize() {
  ScreenSize size;
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
    size.rows = ws.ws_row;
    size.columns = ws.ws_col;
  }
  return size;
}

// One screenful: the lines cut to the screen, the rest of the screen
// cleared, and a footer.
void drawScreen(std::vector<std::string> lines, double interval_s) {
  const ScreenSize size = screenSize();
  const size_t room = size.rows > 2 ? size.rows - 2 : 1;
  if (lines.size() > room) {
    const size_t hidden = lines.size() - room + 1;
    lines.resize(room - 1);
    lines.push_back("... " + std::to_string(hidden) + " more workers");
  }
  lines.emplace_back();
  char footer[80];
  std::snprintf(footer, sizeof(footer), "q quits; refreshed every %.1f s", interval_s);
  lines.emplace_back(footer);
  std::string screen = "\x1b[H";
  for (std::string& line : lines) {
    if (line.size() > size.columns) line.resize(size.columns);
    screen += line + "\x1b[K\n";
  }
  screen.pop_back();  // no scroll past the last row
  screen += "\x1b[J";
  writeOut(screen);
}

enum class Wake { kTick, kQuit, kResize };

// Waits until `deadline`, a key or a signal.
Wake waitFor(Clock::time_point deadline, const SignalFd& signals, bool keyboard) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return Wake::kTick;
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int ready = poll(fds, keyboard ? 2 : 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    if (ready <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      const int signo = signals.read();
      if (signo == SIGWINCH) return Wake::kResize;
      if (signo != 0) return Wake::kQuit;
    }
    if (keyboard && fds[1].revents != 0) {
      char key = 0;
      const ssize_t n = read(STDIN_FILENO, &key, 1);
      if (n <= 0 || key == 'q' || key == 'Q') return Wake::kQuit;
    }
  }
}

int runLive(const stats::Segment& segment, double interval_s) {
  // Destroyed last: the terminal is restored first.
  const SignalFd signals({SIGINT, SIGTERM, SIGWINCH});
  const Terminal terminal;
  writeOut(strprintf("shoal top: measuring over %.1f s...", interval_s));
  Snapshot before = takeSnapshot(segment, processAlive);
  std::optional<std::vector<std::string>> shown;
  auto deadline = Clock::now() + std::chrono::duration<double>(interval_s);
  for (;;) {
    const Wake wake = waitFor(std::chrono::time_point_cast<Clock::duration>(deadline), signals,
                              terminal.keyboard());
    if (wake == Wake::kQuit) return 0;
    if (wake == Wake::kResize) {
      if (shown) drawScreen(*shown, interval_s);
      continue;
    }
    Snapshot after = takeSnapshot(segment, processAlive);
    shown = topLines(makeTopFrame(before, after));
    drawScreen(*shown, interval_s);
    before = std::move(after);
    deadline += std::chrono::duration<double>(interval_s);
    if (deadline < Clock::now()) deadline = Clock::now();
  }
}

int runPlain(const stats::Segment& segment, double interval_s, uint64_t frames, bool json) {
  Snapshot before = takeSnapshot(segment, processAlive);
  for (uint64_t i = 0; i < frames; ++i) {
    std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
    Snapshot after = takeSnapshot(segment, processAlive);
    const TopFrame frame = makeTopFrame(before, after);
    if (json) {
      writeOut(topJson(frame) + "\n");
    } else {
      std::string text = i > 0 ? "\n" : "";
      for (const std::string& line : topLines(frame)) text += line + "\n";
      writeOut(text);
    }
    before = std::move(after);
  }
  return 0;
}

}  // namespace

int runTop(const stats::Segment& segment, const Invocation& inv) {
  const double interval_s = inv.interval_s.value_or(kTopIntervalS);
  const bool tty = isatty(STDOUT_FILENO) == 1;
  if (tty && !inv.json && !inv.iterations) return runLive(segment, interval_s);
  // Plain frames: as many as asked; one into a pipe or file; JSON lines on a
  // terminal go on until interrupted.
  const uint64_t frames =
      inv.iterations.value_or(tty ? std::numeric_limits<uint64_t>::max() : 1);
  return runPlain(segment, interval_s, frames, inv.json);
}

}  // namespace shoal::cli
