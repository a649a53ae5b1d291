import { Module } from '@nestjs/common';
import { API_PREFIX, SETTINGS, type Settings } from '../config/settings.js';
import { FILE_STORE } from './file-store.js';
import { LocalFileStore } from './local-file.store.js';
import { SignedUrls } from './signed-urls.js';

/** The file store and the signing of its URLs. */
@Module({
  providers: [
    {
      provide: FILE_STORE,
      inject: [SETTINGS],
      useFactory: (settings: Settings) => new LocalFileStore(settings.uploads.dir),
    },
    {
      provide: SignedUrls,
      inject: [SETTINGS],
      useFactory: (settings: Settings) =>
        new SignedUrls(
          settings.uploads.urlSecret,
          settings.uploads.urlTtlS,
          `/${API_PREFIX}/files/`,
          settings.http.corsOrigins === '*' ? [] : settings.http.corsOrigins,
        ),
    },
  ],
  exports: [FILE_STORE, SignedUrls],
})
export class FilesModule {}
