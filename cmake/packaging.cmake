# Man pages, install rules and the Debian package (issue 14).
#
#   ninja -C build man-pages                        # build/man/*.gz (scdoc; also in all)
#   cmake --install build --prefix /usr             # or DESTDIR=/tmp/stage cmake --install ...
#   cpack -G DEB --config build/CPackConfig.cmake   # shoal_<version>_<arch>.deb in the cwd
#
# The layout, for the package (prefix /usr):
#   /usr/sbin/shoal                      the daemon (run by systemd or root)
#   /usr/bin/shoalctl                    the operator's CLI (see below)
#   /usr/share/man/man8/shoal.8.gz, shoalctl.8.gz; man5/shoal.toml.5.gz
#   /etc/shoal/shoal.toml                the documented defaults, a conffile
#   /usr/lib/systemd/system/shoal.service, /usr/lib/sysusers.d/shoal.conf
#   /usr/share/doc/shoal/                README, docs/*.md, shoal.toml (reference copy)
# tests/integration/package_test.py builds the .deb, installs it with dpkg,
# checks the files and `shoal --check-config /etc/shoal/shoal.toml`, and
# removes it.

include(GNUInstallDirs)

# ---------------------------------------------------------------------------
# Man pages: scdoc sources in docs/man, roff and gzipped roff in build/man.
# ---------------------------------------------------------------------------
find_program(SHOAL_SCDOC scdoc)
set(SHOAL_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(SHOAL_MAN_PAGES shoal.8 shoalctl.8 shoal.toml.5)
if(SHOAL_SCDOC)
  set(man_outputs)
  foreach(page IN LISTS SHOAL_MAN_PAGES)
    set(source ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
    set(roff ${SHOAL_MAN_DIR}/${page})
    # Written under a temporary name and renamed: a failed scdoc leaves no
    # output that looks up to date. gzip -n: no name or time stamp inside,
    # the same bytes for the same page.
    add_custom_command(
      OUTPUT ${roff} ${roff}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${SHOAL_MAN_DIR}
      COMMAND sh -c [["$0" < "$1" > "$2.tmp" && mv "$2.tmp" "$2" && gzip -9n -c "$2" > "$2.gz"]]
              ${SHOAL_SCDOC} ${source} ${roff}
      DEPENDS ${source}
      COMMENT "scdoc ${page}"
      VERBATIM)
    list(APPEND man_outputs ${roff} ${roff}.gz)
  endforeach()
  add_custom_target(man-pages ALL DEPENDS ${man_outputs})
  install(FILES ${SHOAL_MAN_DIR}/shoal.8.gz ${SHOAL_MAN_DIR}/shoalctl.8.gz
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
  install(FILES ${SHOAL_MAN_DIR}/shoal.toml.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
else()
  message(STATUS "scdoc not found: the man pages are not built (apt-get install scdoc)")
endif()

# ---------------------------------------------------------------------------
# Binaries.
# ---------------------------------------------------------------------------
# shoal is a system daemon started by systemd or root: sbin. shoalctl goes
# to bin: besides root, the members of [control] group run it, and an
# ordinary user's PATH has no sbin on Debian.
install(TARGETS shoal RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS shoalctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---------------------------------------------------------------------------
# systemd: the unit and the sysusers file. The paths in lib/ (not
# CMAKE_INSTALL_LIBDIR, which may be multiarch) are where systemd looks
# under /usr and /usr/local alike.
# ---------------------------------------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/systemd/shoal.sysusers
        DESTINATION lib/sysusers.d RENAME shoal.conf)

# systemd/shoal.service names /usr/local/bin/shoal and shoalctl (its
# README installs them by hand). The installed copy names the installed
# binaries instead; it is written at install time, when
# CMAKE_INSTALL_PREFIX is the final prefix (cpack's DEB generator installs
# with DESTDIR, prefix /usr).
install(CODE "set(SHOAL_UNIT_SOURCE \"${PROJECT_SOURCE_DIR}/systemd/shoal.service\")
set(SHOAL_UNIT_STAGED \"${CMAKE_BINARY_DIR}/packaging/shoal.service\")
set(SHOAL_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
set(SHOAL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")")
install(CODE [[
  file(READ "${SHOAL_UNIT_SOURCE}" unit)
  string(REPLACE "/usr/local/bin/shoal " "${CMAKE_INSTALL_PREFIX}/${SHOAL_SBINDIR}/shoal "
         unit "${unit}")
  string(REPLACE "/usr/local/bin/shoalctl " "${CMAKE_INSTALL_PREFIX}/${SHOAL_BINDIR}/shoalctl "
         unit "${unit}")
  if(unit MATCHES "/usr/local/bin/")
    message(FATAL_ERROR "${SHOAL_UNIT_SOURCE} names a path under /usr/local/bin that "
                        "cmake/packaging.cmake does not rewrite")
  endif()
  file(WRITE "${SHOAL_UNIT_STAGED}" "${unit}")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
       FILES "${SHOAL_UNIT_STAGED}")
]])

# ---------------------------------------------------------------------------
# The configuration: /etc/shoal/shoal.toml, where the unit reads it. An
# existing file (cmake --install over an earlier install) is kept: it is the
# operator's. In the package it is a conffile, which dpkg keeps the same way.
# ---------------------------------------------------------------------------
install(CODE "set(SHOAL_CONF_SOURCE \"${PROJECT_SOURCE_DIR}/conf/shoal.toml\")")
install(CODE [[
  if(EXISTS "$ENV{DESTDIR}/etc/shoal/shoal.toml")
    message(STATUS "Kept: $ENV{DESTDIR}/etc/shoal/shoal.toml (never overwritten)")
  else()
    file(INSTALL DESTINATION "/etc/shoal" TYPE FILE FILES "${SHOAL_CONF_SOURCE}")
  endif()
]])

# ---------------------------------------------------------------------------
# Documentation.
# ---------------------------------------------------------------------------
file(GLOB SHOAL_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${SHOAL_DOCS} ${PROJECT_SOURCE_DIR}/conf/shoal.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/systemd/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME README.systemd.md)

# ---------------------------------------------------------------------------
# The Debian package (CPack DEB).
# ---------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shoal)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "shoal developers <dev@shoal.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "recursive DNS resolver for large ISP resolver farms")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "A supervisor forks workers that share one lock-striped shared-memory\n"
       "cache. Iterative resolution from the root with DNSSEC validation, a\n"
       "local root zone (RFC 8806); UDP, TCP, DNS over TLS and DNS over HTTPS;\n"
       "rolling restart, reload and in-place binary upgrade without losing a\n"
       "query; shoalctl to watch and steer it.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # shoal_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: from the binaries' shared libraries, by dpkg-shlibdeps (dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Stripped binaries, as Debian ships them (the debug information stays in
# the build tree): 50 MB of RelWithDebInfo shoal become a few.
set(CPACK_STRIP_FILES ON)

# Maintainer scripts, written into the build tree. They must work where
# systemd is not PID 1 (a container, a chroot, this build machine): every
# systemctl call that needs a running systemd is skipped then.
set(SHOAL_DEB_DIR ${CMAKE_BINARY_DIR}/packaging/deb)
set(SHOAL_DEB_SYSUSERS ${CPACK_PACKAGING_INSTALL_PREFIX}/lib/sysusers.d/shoal.conf)
file(WRITE ${SHOAL_DEB_DIR}/conffiles "/etc/shoal/shoal.toml\n")
file(WRITE ${SHOAL_DEB_DIR}/postinst "#!/bin/sh
# shoal postinst (cmake/packaging.cmake): the shoal user, then systemd's view
# of the unit. The service is neither enabled nor started: review
# /etc/shoal/shoal.toml, then `systemctl enable --now shoal`. After an
# upgrade of a running shoal, `shoalctl upgrade` puts the new binary in
# service without losing a query.
set -e
case \"$1\" in
  configure|abort-upgrade|abort-remove|abort-deconfigure)
    if command -v systemd-sysusers >/dev/null 2>&1; then
      systemd-sysusers ${SHOAL_DEB_SYSUSERS}
    elif ! getent passwd shoal >/dev/null; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \\
        --shell /usr/sbin/nologin --comment 'shoal DNS resolver' shoal
    fi
    if [ -d /run/systemd/system ]; then
      systemctl daemon-reload || true
    fi
    ;;
esac
exit 0
")
file(WRITE ${SHOAL_DEB_DIR}/prerm "#!/bin/sh
# shoal prerm (cmake/packaging.cmake): stop the service when the package is
# removed. Not on upgrade: the running shoal serves on until
# `shoalctl upgrade` (or a restart) puts the new binary in service.
set -e
case \"$1\" in
  remove|deconfigure)
    if [ -d /run/systemd/system ]; then
      systemctl stop shoal.service || true
    fi
    ;;
esac
exit 0
")
file(WRITE ${SHOAL_DEB_DIR}/postrm "#!/bin/sh
# shoal postrm (cmake/packaging.cmake). dpkg removes the files and, on
# purge, /etc/shoal/shoal.toml. Left alone: the shoal user (Debian's rule
# for system users: files may still belong to it) and the cache segment in
# /dev/shm (tmpfs: gone at the next boot; another shoal may use it).
set -e
case \"$1\" in
  purge)
    # What `systemctl enable shoal` linked (the unit file is gone already).
    rm -f /etc/systemd/system/multi-user.target.wants/shoal.service
    ;;
esac
case \"$1\" in
  remove|purge)
    if [ -d /run/systemd/system ]; then
      systemctl daemon-reload || true
    fi
    ;;
esac
exit 0
")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${SHOAL_DEB_DIR}/conffiles ${SHOAL_DEB_DIR}/postinst ${SHOAL_DEB_DIR}/prerm
    ${SHOAL_DEB_DIR}/postrm)
# Modes from dpkg's rules (0755 scripts, 0644 conffiles), not the build tree's.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
