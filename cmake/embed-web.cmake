# Turns every file under a directory into C arrays, with a strong ETag each
# (its SHA-256) and an id for the whole set (the SHA-256 of the files'
# names and hashes), which versions the immutable asset URLs:
#   cmake -DDIR=web -DOUT=web-data.c -P embed-web.cmake
file(GLOB_RECURSE files RELATIVE "${DIR}" "${DIR}/*")
list(SORT files)
set(body "/* Generated from ${DIR} at build time. */\n#include <stddef.h>\n")
set(names "")
set(datas "")
set(sizes "")
set(etags "")
set(all "")
set(i 0)
foreach(f ${files})
  if(f MATCHES "(^|/)\\.")
    continue()
  endif()
  file(READ "${DIR}/${f}" hex HEX)
  file(SHA256 "${DIR}/${f}" sum)
  file(SIZE "${DIR}/${f}" size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const unsigned char d${i}[] = {${bytes} 0};\n")
  string(APPEND names "\"${f}\",")
  string(APPEND datas "d${i},")
  string(APPEND sizes "${size},")
  string(APPEND etags "\"${sum}\",")
  string(APPEND all "${f} ${sum}\n")
  math(EXPR i "${i} + 1")
endforeach()
string(SHA256 id "${all}")
string(SUBSTRING "${id}" 0 16 id)
string(APPEND body
  "const char *const api_web_names[] = {${names} NULL};\n"
  "const unsigned char *const api_web_data[] = {${datas} NULL};\n"
  "const size_t api_web_sizes[] = {${sizes} 0};\n"
  "const char *const api_web_etags[] = {${etags} NULL};\n"
  "const size_t api_web_count = ${i};\n"
  "const char api_web_id[] = \"${id}\";\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
