# SHOAL_SANITIZE builds everything with ASan + UBSan; UBSan findings abort so
# that a test run fails on the first one.
if(SHOAL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
