#!/usr/bin/env bash
# Compiles every .java under the source directories into CLASSES and packs them as JAR.
# usage: build-jar.sh JAVAC JAR OUT.jar CLASSES CLASSPATH SRCDIR...   (CLASSPATH - for none:
# CMake drops an empty argument)
set -euo pipefail
javac=$1 jar=$2 out=$3 classes=$4 cp=$5
[ "$cp" = - ] && cp=
shift 5
rm -rf "$classes"
mkdir -p "$classes"
list="$classes.sources"
find "$@" -name '*.java' | sort >"$list"
# Every warning is an error, but deprecation: SWIG's generated classes override finalize().
"$javac" -encoding UTF-8 -Xlint:all -Xlint:-deprecation -Xlint:-removal -Werror \
    ${cp:+-cp "$cp"} -d "$classes" @"$list"
"$jar" cf "$out" -C "$classes" .
