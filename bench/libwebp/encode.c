// Issue 22's libwebp build experiment (builds.sh): encode raw RGB files
// (`<u32 width><u32 height><RGB bytes>`) to WebP at q80 and the given
// method, one thread, and print the output bytes and the process CPU time
// of the whole run.   Usage: encode METHOD PASSES FILE...
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include "src/webp/encode.h"
static int wr(const uint8_t* d, size_t n, const WebPPicture* p){ *(size_t*)p->custom_ptr += n; return 1; }
int main(int argc, char** argv){
  int method = atoi(argv[1]); int passes = atoi(argv[2]);
  size_t total=0; struct timespec a,b; clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&a);
  for (int p=0;p<passes;p++) for (int i=3;i<argc;i++){
    FILE* f=fopen(argv[i],"rb"); uint32_t wh[2]; fread(wh,4,2,f);
    uint8_t* px=malloc((size_t)wh[0]*wh[1]*3); fread(px,1,(size_t)wh[0]*wh[1]*3,f); fclose(f);
    WebPConfig c; WebPConfigInit(&c); c.quality=80; c.method=method;
    WebPPicture pic; WebPPictureInit(&pic); pic.width=wh[0]; pic.height=wh[1];
    WebPPictureImportRGB(&pic, px, wh[0]*3);
    size_t n=0; pic.writer=wr; pic.custom_ptr=&n;
    WebPEncode(&c,&pic); WebPPictureFree(&pic); free(px); total+=n;
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&b);
  printf("bytes %zu cpu %.3f s\n", total, (b.tv_sec-a.tv_sec)+(b.tv_nsec-a.tv_nsec)/1e9);
}
