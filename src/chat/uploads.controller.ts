import {
  BadRequestException,
  CallHandler,
  CanActivate,
  Controller,
  ExecutionContext,
  ForbiddenException,
  Get,
  HttpException,
  Inject,
  Injectable,
  Logger,
  NestInterceptor,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
  UnsupportedMediaTypeException,
  UploadedFiles,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { FilesInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiPayloadTooLargeResponse, ApiTags, ApiUnsupportedMediaTypeResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { fileTypeFromBuffer } from 'file-type';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { catchError, type Observable } from 'rxjs';
import { CurrentSession, HttpJwtGuard } from '../auth/http-jwt.guard.js';
import type { Session } from '../auth/session.js';
import { API_PREFIX, SETTINGS, type Settings } from '../config/settings.js';
import { isRoomId } from '../core/ids.js';
import { FILE_STORE, type FileStore } from '../files/file-store.js';
import { readHead } from '../files/local-file.store.js';
import { FILE_NAME, SignedUrls } from '../files/signed-urls.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { ErrorDoc, UploadDoc } from './dto/rest.dto.js';
import { ApiChatErrors } from './rest-docs.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { RememberProfileInterceptor } from './profile-claims.js';

/** Bytes read to detect a file's type (what `file-type` needs for every type it knows). */
const SNIFF_BYTES = 4100;

/** What multer's disk storage reports of one received file (the fields used here). */
interface ReceivedFile {
  path: string;
  originalname: string;
}

/**
 * Runs before the body is read: only a member of the room may send one, so
 * nobody else can make this instance receive and store bytes.
 */
@Injectable()
export class RoomMemberGuard implements CanActivate {
  constructor(private readonly rooms: RoomsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request & { session?: Session }>();
    const roomId = request.params.room_id;
    if (!isRoomId(roomId)) throw new BadRequestException('room_id must be a room id (a UUID)');
    if (!request.session) return false;
    await this.rooms.assertMember(request.session, roomId);
    return true;
  }
}

/**
 * Around the multipart parser: a request the client cut short (it went away,
 * or broke the chunked encoding, and Node destroyed the request) fails there
 * with a plain `Error`, which Nest would answer as a 500 and log as a server
 * error. It is the client's doing: answered 400 (if anyone is still there),
 * and logged at debug only. Any other failure (the disk's, say) is not.
 */
@Injectable()
export class UploadCutShortInterceptor implements NestInterceptor {
  private readonly log = new Logger(UploadCutShortInterceptor.name);

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<Request>();
    return next.handle().pipe(
      catchError((error: unknown) => {
        // A system call that failed (writing the file: ENOSPC, EACCES, ENOTDIR …) is the disk's, even though
        // the parser then abandons the request as a cut-short one does.
        const diskFailed = typeof (error as NodeJS.ErrnoException | undefined)?.syscall === 'string';
        if (error instanceof HttpException || diskFailed || !(request.destroyed || request.readableAborted)) throw error;
        this.log.debug(`upload cut short: ${error instanceof Error ? error.message : String(error)}`);
        throw new BadRequestException('The upload was cut short');
      }),
    );
  }
}

/**
 * Files shared in rooms (PROTOCOL §5). An upload streams to disk within the
 * size and count limits, its type is detected from its first bytes (never
 * from its name), and it is stored under a name the server makes. Each file
 * is served at a short-lived signed URL, which an `<img src>` can use.
 */
@ApiTags('files')
@Controller(API_PREFIX)
@UseInterceptors(RememberProfileInterceptor)
export class UploadsController {
  constructor(
    @Inject(FILE_STORE) private readonly files: FileStore,
    private readonly urls: SignedUrls,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  @Post('rooms/:room_id/upload')
  @ApiChatErrors()
  @UseGuards(RestRateGuard, HttpJwtGuard, RoomMemberGuard)
  @UseInterceptors(UploadCutShortInterceptor, FilesInterceptor('files'))
  @ApiOperation({ summary: 'Upload files to the room (members only); each answer `url` works for FILE_URL_TTL_S' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ schema: { type: 'object', properties: { files: { type: 'array', items: { type: 'string', format: 'binary' } } } } })
  @ApiCreatedResponse({ type: UploadDoc })
  @ApiPayloadTooLargeResponse({ type: ErrorDoc, description: 'A file over UPLOAD_MAX_FILE_BYTES (more than UPLOAD_MAX_FILES files is a 400)' })
  @ApiUnsupportedMediaTypeResponse({ type: ErrorDoc, description: 'A file whose detected type is not in UPLOAD_ALLOWED_TYPES' })
  async upload(
    @CurrentSession() _caller: Session,
    @Param('room_id') roomId: string,
    @UploadedFiles() uploaded: ReceivedFile[] | undefined,
  ): Promise<{ uploaded: number; files: Array<{ path: string; url: string }> }> {
    const received = uploaded ?? [];
    try {
      if (received.length === 0) throw new BadRequestException('files must hold at least one file');
      const stored: Array<{ path: string; url: string }> = [];
      const kinds = [];
      for (const file of received) {
        const head = await readHead(file.path, SNIFF_BYTES);
        const kind = head && (await fileTypeFromBuffer(head));
        const allowed = this.settings.uploads.allowedTypes;
        // An animated PNG is a PNG (a decoder without animation shows its first frame): allowed with image/png too.
        if (!kind || !(allowed.includes(kind.mime) || (kind.mime === 'image/apng' && allowed.includes('image/png')))) {
          throw new UnsupportedMediaTypeException(`${file.originalname || 'a file'} is not of an allowed type (${allowed.join(', ')})`);
        }
        kinds.push(kind);
      }
      for (const [i, file] of received.entries()) {
        const path = `rooms/${roomId}/${randomUUID()}.${kinds[i].ext}`;
        await this.files.put(path, file.path);
        stored.push({ path, url: this.urls.sign(path) });
      }
      return { uploaded: stored.length, files: stored };
    } finally {
      // Whatever was not taken into the store (a refusal, a failure) goes.
      await Promise.all(received.map((file) => rm(file.path, { force: true })));
    }
  }

  /** No token: the signature is the permission (an `<img src>` sends no header). */
  @Get('files/rooms/:room_id/:name')
  @ApiOperation({ summary: 'A stored file, by the signed URL an upload answered' })
  @ApiOkResponse({ description: 'The bytes, with the detected Content-Type, Content-Disposition and X-Content-Type-Options: nosniff' })
  @ApiForbiddenResponse({ type: ErrorDoc, description: 'A wrong or expired signature' })
  @ApiNotFoundResponse({ type: ErrorDoc, description: 'No such file' })
  async serve(
    @Param('room_id') roomId: string,
    @Param('name') name: string,
    @Query('expires') expires: string | undefined,
    @Query('signature') signature: string | undefined,
    @Res() response: Response,
  ): Promise<void> {
    if (!isRoomId(roomId) || !FILE_NAME.test(name)) throw new NotFoundException('No such file');
    const path = `rooms/${roomId}/${name}`;
    const query = [expires, signature].map((v) => (typeof v === 'string' ? v : undefined));
    if (!this.urls.verify(path, query[0], query[1])) throw new ForbiddenException('This file link is not valid or has expired');
    const head = await this.files.head(path, SNIFF_BYTES);
    const kind = head && (await fileTypeFromBuffer(head));
    const file = kind && (await this.files.open(path));
    if (!file) throw new NotFoundException('No such file');
    const inline = kind.mime.startsWith('image/');
    response.status(200);
    response.setHeader('Content-Type', kind.mime);
    response.setHeader('Content-Length', String(file.size));
    response.setHeader('Content-Disposition', `${inline ? 'inline' : 'attachment'}; filename="${name}"`);
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    response.setHeader('Cache-Control', `private, max-age=${this.settings.uploads.urlTtlS}`);
    try {
      await pipeline(file.stream, response);
    } catch (error) {
      // A reader that goes away mid-file (a cancelled image load) is routine; the answer has begun, so there is no one to tell.
      if ((error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || response.destroyed) return;
      throw error;
    }
  }

}
