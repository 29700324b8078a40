#pragma once
// The requests shoalctl sends on the control socket and the human output
// of the supervisor's answers (control/protocol.h). With --json the answer
// is printed as is, so only the human side lives here. Fields missing from
// an answer show as "-" rather than failing: an older or newer supervisor
// still gets readable output.

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "cli/command_line.h"
#include "cli/snapshot.h"

namespace shoal::cli {

/// The request line (JSON, no newline) for a socket command.
std::string controlRequest(const Invocation& invocation);
/// The supervisor's answer line as JSON; throws std::runtime_error
/// ("malformed answer from shoal: ...") when it is not a JSON object.
nlohmann::json parseAnswer(const std::string& line);
/// Whether the answer says "ok": true.
bool answerOk(const nlohmann::json& answer);
/// The reason of an ok=false answer ("error"), or a generic text.
std::string answerError(const nlohmann::json& answer);

/// Human output of an ok=true answer to `command`, ending in "\n".
/// `all_stripes`: cache stats lists every stripe instead of a summary.
std::string answerText(Command command, const nlohmann::json& answer, bool all_stripes);

std::string pingText(const nlohmann::json& answer);
std::string serversText(const nlohmann::json& answer);
std::string cacheLookupText(const nlohmann::json& answer);
std::string cacheFlushText(const nlohmann::json& answer);
std::string cacheStatsText(const nlohmann::json& answer, bool all_stripes);
/// `ecs`: the totals and the names with the most partitions; an answer
/// with "name" (ecs NAME TYPE): that name's partitions and global entry.
std::string ecsText(const nlohmann::json& answer);
std::string reloadText(const nlohmann::json& answer);
std::string restartText(const nlohmann::json& answer);
std::string upgradeText(const nlohmann::json& answer);
std::string ntaAddText(const nlohmann::json& answer);
std::string ntaRemoveText(const nlohmann::json& answer);
std::string ntaListText(const nlohmann::json& answer);

/// The "anchors" of an nta.list answer, for `status`.
std::vector<AnchorInfo> anchorsOf(const nlohmann::json& answer);
/// The "local_root" of a local_root answer, for `status`.
LocalRootInfo localRootOf(const nlohmann::json& answer);
/// "90s", "30m", "2h", "7d": the largest unit that divides `seconds`.
std::string formatLifetime(uint64_t seconds);

}  // namespace shoal::cli
